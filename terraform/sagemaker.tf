resource "aws_sagemaker_model_package_group" "fraud" {
  model_package_group_name        = local.model_package_group
  model_package_group_description = "SecureBank fraud model versions"
}

# The pipeline itself is upserted by `securebank pipeline upsert --role-arn <pipeline_role_arn>`;
# the endpoint is created by `securebank model deploy N --target aws` (docs/deploy.md).
