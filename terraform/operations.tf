# Fraud operations (issue #14): cases, labels, the labels stream, live performance, retraining.
# Names follow securebank/resources.py; tests/terraform/test_terraform.py holds the tables to the
# local stack's (securebank/local/stack.py).
locals {
  cases_table          = "${local.base}-cases"
  labels_table         = "${local.base}-labels"
  cases_function       = "${local.base}-cases"
  labels_function      = "${local.base}-labels"
  performance_function = "${local.base}-performance"
  performance_metric   = { namespace = "SecureBank", service = "securebank-performance" }
  operations_functions = {
    cases       = { name = local.cases_function, command = "securebank.cases.handler.lambda_handler", timeout = 30 }
    labels      = { name = local.labels_function, command = "securebank.labels.handler.lambda_handler", timeout = 60 }
    performance = { name = local.performance_function, command = "securebank.monitoring.handler.lambda_handler", timeout = 300 }
  }
}

resource "aws_dynamodb_table" "cases" {
  name         = local.cases_table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "case_id"
  attribute {
    name = "case_id"
    type = "S"
  }
  attribute {
    name = "status"
    type = "S"
  }
  attribute {
    name = "created_at"
    type = "S"
  }
  global_secondary_index {
    name            = "by-status"
    hash_key        = "status"
    range_key       = "created_at"
    projection_type = "ALL"
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

resource "aws_dynamodb_table" "labels" {
  name             = local.labels_table
  billing_mode     = "PAY_PER_REQUEST"
  hash_key         = "transaction_id"
  stream_enabled   = true
  stream_view_type = "NEW_IMAGE"
  attribute {
    name = "transaction_id"
    type = "S"
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

resource "aws_sqs_queue" "operations_failures" {
  name                      = "${local.base}-operations-failures"
  kms_master_key_id         = aws_kms_key.data.arn
  message_retention_seconds = 1209600
}

resource "aws_cloudwatch_log_group" "operations" {
  for_each          = local.operations_functions
  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

resource "aws_iam_role" "operations" {
  for_each           = local.operations_functions
  name               = each.value.name
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

data "aws_iam_policy_document" "operations_common" {
  for_each = local.operations_functions
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.operations[each.key].arn}:*"]
  }
  statement {
    sid       = "Encryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.data.arn]
  }
  statement {
    sid       = "FailedEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.operations_failures.arn]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions.
  }
}

data "aws_iam_policy_document" "operations" {
  source_policy_documents = [data.aws_iam_policy_document.operations_common[each.key].json]
  for_each                = local.operations_functions
  dynamic "statement" {
    for_each = each.key == "cases" ? [1] : []
    content {
      sid       = "AlertsQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      resources = [aws_sqs_queue.queues[local.alerts_queue].arn]
    }
  }
  dynamic "statement" {
    for_each = each.key == "cases" ? [1] : []
    content {
      sid       = "CreateCases"
      actions   = ["dynamodb:PutItem"]
      resources = [aws_dynamodb_table.cases.arn]
    }
  }
  dynamic "statement" {
    for_each = each.key == "labels" ? [1] : []
    content {
      sid       = "LabelsStream"
      actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
      resources = [aws_dynamodb_table.labels.stream_arn]
    }
  }
  dynamic "statement" {
    for_each = each.key == "labels" ? [1] : []
    content {
      sid       = "MerchantLabelState"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      resources = [aws_dynamodb_table.feature_state.arn]
      condition {
        test     = "ForAllValues:StringLike"
        variable = "dynamodb:LeadingKeys"
        values   = ["merchant#*#labels"]
      }
    }
  }
  dynamic "statement" {
    for_each = each.key == "performance" ? [1] : []
    content {
      sid       = "ReadDecisionsAndLabels"
      actions   = ["s3:GetObject", "s3:ListBucket", "dynamodb:Scan"]
      resources = [aws_s3_bucket.data["lake"].arn, "${aws_s3_bucket.data["lake"].arn}/decisions/*", aws_dynamodb_table.labels.arn]
    }
  }
}

resource "aws_iam_role_policy" "operations" {
  for_each = local.operations_functions
  role     = aws_iam_role.operations[each.key].id
  policy   = data.aws_iam_policy_document.operations[each.key].json
}

resource "aws_lambda_function" "operations" {
  # checkov:skip=CKV_AWS_117:These functions reach only AWS APIs; a VPC adds NAT/endpoints cost without a private resource to reach.
  # checkov:skip=CKV_AWS_272:Code signing applies to zip packages; these run the platform's container image (lambda/Dockerfile).
  for_each                       = local.operations_functions
  function_name                  = each.value.name
  role                           = aws_iam_role.operations[each.key].arn
  package_type                   = "Image"
  image_uri                      = var.scorer_image_uri
  memory_size                    = 1024
  timeout                        = each.value.timeout
  reserved_concurrent_executions = 5
  kms_key_arn                    = aws_kms_key.data.arn
  image_config {
    command = [each.value.command]
  }
  tracing_config {
    mode = "Active"
  }
  dead_letter_config {
    target_arn = aws_sqs_queue.operations_failures.arn
  }
  environment {
    variables = {
      SECUREBANK_TARGET            = "aws"
      SECUREBANK_PREFIX            = var.prefix
      SECUREBANK_ENVIRONMENT       = var.environment
      POWERTOOLS_SERVICE_NAME      = "securebank-${each.key}"
      POWERTOOLS_METRICS_NAMESPACE = "SecureBank"
    }
  }
  depends_on = [aws_cloudwatch_log_group.operations]
}

# Alerts queue → cases (one case per alert; creation is idempotent, so retries are safe).
resource "aws_lambda_event_source_mapping" "alerts_to_cases" {
  event_source_arn                   = aws_sqs_queue.queues[local.alerts_queue].arn
  function_name                      = aws_lambda_function.operations["cases"].arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
}

# Labels table stream → the merchant state's labels partial (idempotent; conditional writes).
resource "aws_lambda_event_source_mapping" "labels_stream" {
  event_source_arn               = aws_dynamodb_table.labels.stream_arn
  function_name                  = aws_lambda_function.operations["labels"].arn
  starting_position              = "TRIM_HORIZON"
  batch_size                     = 100
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 10
  maximum_record_age_in_seconds  = 86400
  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.operations_failures.arn
    }
  }
}

# Performance on matured labels, hourly, as EMF metrics.
resource "aws_cloudwatch_event_rule" "performance" {
  name                = "${local.base}-performance"
  description         = "Live performance on matured labels (EMF metrics)."
  schedule_expression = "rate(1 hour)"
}

resource "aws_cloudwatch_event_target" "performance" {
  rule = aws_cloudwatch_event_rule.performance.name
  arn  = aws_lambda_function.operations["performance"].arn
}

resource "aws_lambda_permission" "performance_schedule" {
  statement_id  = "AllowSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.operations["performance"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.performance.arn
}

# Retraining: on schedule, or when the matured-label AP alarm fires → StartPipelineExecution.
resource "aws_iam_role" "retrain" {
  name = "${local.base}-retrain"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "events.amazonaws.com" }
    }]
  })
}

data "aws_iam_policy_document" "retrain" {
  statement {
    sid       = "StartTraining"
    actions   = ["sagemaker:StartPipelineExecution"]
    resources = ["arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:pipeline/${lower(local.pipeline_name)}"]
  }
}

resource "aws_iam_role_policy" "retrain" {
  role   = aws_iam_role.retrain.id
  policy = data.aws_iam_policy_document.retrain.json
}

resource "aws_cloudwatch_event_rule" "retrain_schedule" {
  name                = "${local.base}-retrain-schedule"
  description         = "Retrain the fraud model on schedule."
  schedule_expression = "rate(${var.retrain_schedule_days} days)"
}

resource "aws_cloudwatch_event_rule" "retrain_on_performance" {
  name        = "${local.base}-retrain-on-performance"
  description = "Retrain when matured-label average precision falls below the threshold."
  event_pattern = jsonencode({
    source      = ["aws.cloudwatch"]
    detail-type = ["CloudWatch Alarm State Change"]
    resources   = [aws_cloudwatch_metric_alarm.matured_average_precision.arn]
    detail      = { state = { value = ["ALARM"] } }
  })
}

resource "aws_cloudwatch_event_target" "retrain" {
  for_each = {
    schedule    = aws_cloudwatch_event_rule.retrain_schedule.name
    performance = aws_cloudwatch_event_rule.retrain_on_performance.name
  }
  rule     = each.value
  arn      = "arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:pipeline/${lower(local.pipeline_name)}"
  role_arn = aws_iam_role.retrain.arn
}

resource "aws_cloudwatch_metric_alarm" "matured_average_precision" {
  alarm_name          = "${local.base}-matured-average-precision"
  alarm_description   = "Average precision on matured labels is below the retraining threshold."
  namespace           = local.performance_metric.namespace
  metric_name         = "AveragePrecision"
  dimensions          = { service = local.performance_metric.service, model_version = "all" }
  statistic           = "Average"
  period              = 3600
  evaluation_periods  = 3
  threshold           = var.retrain_min_average_precision
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_metric_alarm" "matured_recall" {
  alarm_name          = "${local.base}-matured-recall"
  alarm_description   = "Recall on matured labels fell below the floor: frauds are getting through."
  namespace           = local.performance_metric.namespace
  metric_name         = "Recall"
  dimensions          = { service = local.performance_metric.service, model_version = "all" }
  statistic           = "Average"
  period              = 3600
  evaluation_periods  = 3
  threshold           = var.min_matured_recall
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_metric_alarm" "case_backlog" {
  alarm_name          = "${local.base}-case-backlog"
  alarm_description   = "Alerts wait more than an hour before they become cases."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = local.alerts_queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 3600
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_metric_alarm" "labels_stream_age" {
  alarm_name          = "${local.base}-labels-stream-age"
  alarm_description   = "Labels reach the merchant state more than 5 minutes late."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = local.labels_function }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 300000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_dashboard" "operations" {
  dashboard_name = "${local.base}-operations"
  dashboard_body = jsonencode({
    widgets = [
      { type = "metric", width = 12, height = 6, properties = { title = "Matured-label precision, recall, AP (all versions)", region = var.region, stat = "Average", period = 3600,
      metrics = [for m in ["Precision", "Recall", "AmountRecall", "AveragePrecision"] : [local.performance_metric.namespace, m, "service", local.performance_metric.service, "model_version", "all"]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Alert rate and analyst load", region = var.region, stat = "Average", period = 3600,
      metrics = [[local.performance_metric.namespace, "AlertRate", "service", local.performance_metric.service, "model_version", "all"], [local.performance_metric.namespace, "AnalystLoad", "service", local.performance_metric.service, "model_version", "all", { yAxis = "right" }]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Cases created, labels applied", region = var.region, stat = "Sum", period = 300,
      metrics = [["SecureBank", "CasesCreated", "service", "securebank-cases"], ["SecureBank", "LabelsApplied", "service", "securebank-labels"]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Alerts waiting, labels stream age", region = var.region, stat = "Maximum", period = 60,
      metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.alerts_queue], ["AWS/Lambda", "IteratorAge", "FunctionName", local.labels_function, { yAxis = "right" }]] } },
    ]
  })
}
