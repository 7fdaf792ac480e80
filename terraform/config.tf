# AWS Config: a recorder and managed rules for what this stack deploys. Optional like CloudTrail:
# an account has one recorder per region, and many organisations already run one centrally
# (Control Tower, Security Hub); then leave this off and add the rules there.

variable "enable_config" {
  description = "Create an AWS Config recorder, delivery channel and the platform's managed rules."
  type        = bool
  default     = false
}

locals {
  config_count = var.enable_config ? 1 : 0
  # Managed rule identifier, the resource types it evaluates, and its parameters.
  config_rules = {
    s3-encrypted-with-kms = {
      id = "S3_DEFAULT_ENCRYPTION_KMS", types = ["AWS::S3::Bucket"], params = null
    }
    s3-bucket-public-access-blocked = {
      id = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED", types = ["AWS::S3::Bucket"], params = null
    }
    s3-tls-only = {
      id = "S3_BUCKET_SSL_REQUESTS_ONLY", types = ["AWS::S3::Bucket"], params = null
    }
    dynamodb-encrypted-with-kms = {
      id = "DYNAMODB_TABLE_ENCRYPTED_KMS", types = ["AWS::DynamoDB::Table"], params = null
    }
    dynamodb-pitr = {
      id = "DYNAMODB_PITR_ENABLED", types = ["AWS::DynamoDB::Table"], params = null
    }
    kinesis-encrypted = {
      id = "KINESIS_STREAM_ENCRYPTED", types = ["AWS::Kinesis::Stream"], params = null
    }
    sns-encrypted-with-kms = {
      id = "SNS_ENCRYPTED_KMS", types = ["AWS::SNS::Topic"], params = null
    }
    sagemaker-endpoint-config-kms = {
      id = "SAGEMAKER_ENDPOINT_CONFIGURATION_KMS_KEY_CONFIGURED", types = ["AWS::SageMaker::EndpointConfig"], params = null
    }
    kms-rotation = {
      id = "CMK_BACKING_KEY_ROTATION_ENABLED", types = null, params = null
    }
    cloudtrail-on = {
      id = "CLOUD_TRAIL_ENABLED", types = null, params = null
    }
    lambda-concurrency = {
      id     = "LAMBDA_CONCURRENCY_CHECK", types = ["AWS::Lambda::Function"]
      params = { ConcurrencyLimitLow = "1", ConcurrencyLimitHigh = tostring(var.scorer_reserved_concurrency) }
    }
  }
}

data "aws_iam_policy_document" "assume_config" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "config" {
  count              = local.config_count
  name               = "${local.base}-config"
  assume_role_policy = data.aws_iam_policy_document.assume_config.json
}

resource "aws_iam_role_policy_attachment" "config" {
  count      = local.config_count
  role       = aws_iam_role.config[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWS_ConfigRole"
}

# Delivery into the access-logs bucket under config/, with the platform key.
data "aws_iam_policy_document" "config_delivery" {
  statement {
    sid       = "Deliver"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.data["logs"].arn}/config/*"]
  }
  statement {
    sid       = "BucketAcl"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.data["logs"].arn]
  }
  statement {
    sid       = "Encryption"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.data.arn]
  }
}

resource "aws_iam_role_policy" "config_delivery" {
  count  = local.config_count
  name   = "deliver"
  role   = aws_iam_role.config[0].id
  policy = data.aws_iam_policy_document.config_delivery.json
}

resource "aws_config_configuration_recorder" "platform" {
  count    = local.config_count
  name     = "${local.base}-recorder"
  role_arn = aws_iam_role.config[0].arn
  recording_group {
    all_supported                 = true
    include_global_resource_types = true
  }
}

resource "aws_config_delivery_channel" "platform" {
  count          = local.config_count
  name           = "${local.base}-delivery"
  s3_bucket_name = aws_s3_bucket.data["logs"].id
  s3_key_prefix  = "config"
  s3_kms_key_arn = aws_kms_key.data.arn
  snapshot_delivery_properties {
    delivery_frequency = "TwentyFour_Hours"
  }
  depends_on = [aws_config_configuration_recorder.platform]
}

resource "aws_config_configuration_recorder_status" "platform" {
  count      = local.config_count
  name       = aws_config_configuration_recorder.platform[0].name
  is_enabled = true
  depends_on = [aws_config_delivery_channel.platform]
}

resource "aws_config_config_rule" "managed" {
  for_each         = var.enable_config ? local.config_rules : {}
  name             = "${local.base}-${each.key}"
  input_parameters = each.value.params == null ? null : jsonencode(each.value.params)
  source {
    owner             = "AWS"
    source_identifier = each.value.id
  }
  dynamic "scope" {
    for_each = each.value.types == null ? [] : [each.value.types]
    content {
      compliance_resource_types = scope.value
    }
  }
  depends_on = [aws_config_configuration_recorder_status.platform]
}
