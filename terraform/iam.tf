# One role per component, each limited to the resources it uses. No "*" action on data.

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "assume_sagemaker" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "assume_apigateway" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scorer" {
  name               = "${local.base}-scorer"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

data "aws_iam_policy_document" "scorer" {
  statement {
    sid = "ReadStream"
    actions = ["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary", "kinesis:ListShards"]
    resources = [aws_kinesis_stream.transactions.arn]
  }
  statement {
    sid       = "ListStreams"
    actions   = ["kinesis:ListStreams"]
    resources = ["arn:${local.partition}:kinesis:${var.region}:${local.account_id}:stream/*"]
  }
  statement {
    sid       = "FeatureState"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.feature_state.arn]
  }
  statement {
    sid       = "Decisions"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.decisions.arn]
  }
  statement {
    sid       = "Lake"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.data["lake"].arn}/decisions/*"]
  }
  statement {
    sid       = "FallbackModel"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.data["artifacts"].arn}/models/*"]
  }
  statement {
    sid       = "Registry"
    actions   = ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"]
    resources = ["arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:model-package/${local.model_package_group}/*", aws_sagemaker_model_package_group.fraud.arn]
  }
  statement {
    sid       = "Endpoint"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = ["arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:endpoint/${local.endpoint_name}"]
  }
  statement {
    sid       = "Alerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.queues[local.dead_letter_queue].arn, aws_sqs_queue.queues[local.stream_failure_queue].arn]
  }
  statement {
    sid       = "Encryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.data.arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.scorer.arn}:*"]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions.
  }
}

resource "aws_iam_role_policy" "scorer" {
  role   = aws_iam_role.scorer.id
  policy = data.aws_iam_policy_document.scorer.json
}

resource "aws_iam_role" "pipeline" {
  name               = "${local.base}-pipeline"
  assume_role_policy = data.aws_iam_policy_document.assume_sagemaker.json
}

# What every SageMaker role needs: the platform image and the data key.
data "aws_iam_policy_document" "sagemaker_common" {
  statement {
    sid       = "Image"
    actions   = ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability"]
    resources = ["arn:${local.partition}:ecr:${var.region}:${local.account_id}:repository/${var.prefix}*"]
  }
  statement {
    sid       = "ImageToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions.
  }
  statement {
    sid       = "Encryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.data.arn]
  }
}

data "aws_iam_policy_document" "pipeline" {
  source_policy_documents = [data.aws_iam_policy_document.sagemaker_common.json]
  statement {
    sid       = "ReadRawData"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.data["lake"].arn, "${aws_s3_bucket.data["lake"].arn}/raw/*"]
  }
  statement {
    sid       = "Artifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.data["artifacts"].arn, "${aws_s3_bucket.data["artifacts"].arn}/*"]
  }
  statement {
    sid = "Jobs"
    actions = ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
      "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
    "sagemaker:AddTags"]
    resources = [
      "arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:processing-job/${local.base}-*",
      "arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:training-job/${local.base}-*",
      "arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:pipeline/${local.pipeline_name}",
    ]
  }
  statement {
    sid       = "Register"
    actions   = ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]
    resources = [aws_sagemaker_model_package_group.fraud.arn, "arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:model-package/${local.model_package_group}/*"]
  }
  statement {
    sid       = "PassOwnRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.pipeline.arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/sagemaker/*"]
  }
}

resource "aws_iam_role_policy" "pipeline" {
  role   = aws_iam_role.pipeline.id
  policy = data.aws_iam_policy_document.pipeline.json
}

resource "aws_iam_role" "endpoint" {
  name               = "${local.base}-endpoint"
  assume_role_policy = data.aws_iam_policy_document.assume_sagemaker.json
}

data "aws_iam_policy_document" "endpoint" {
  source_policy_documents = [data.aws_iam_policy_document.sagemaker_common.json]
  statement {
    sid       = "Models"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.data["artifacts"].arn}/models/*"]
  }
  statement {
    sid       = "DataCapture"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.data["lake"].arn}/capture/*"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/sagemaker/Endpoints/${local.endpoint_name}*"]
  }
}

resource "aws_iam_role_policy" "endpoint" {
  role   = aws_iam_role.endpoint.id
  policy = data.aws_iam_policy_document.endpoint.json
}

resource "aws_iam_role" "api" {
  name               = "${local.base}-ingest-api"
  assume_role_policy = data.aws_iam_policy_document.assume_apigateway.json
}

data "aws_iam_policy_document" "api" {
  statement {
    actions   = ["kinesis:PutRecord", "kinesis:PutRecords"]
    resources = [aws_kinesis_stream.transactions.arn]
  }
  statement {
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.data.arn]
  }
}

resource "aws_iam_role_policy" "api" {
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}
