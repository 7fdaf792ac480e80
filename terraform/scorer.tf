resource "aws_cloudwatch_log_group" "scorer" {
  name              = "/aws/lambda/${local.scorer_function}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

resource "aws_lambda_function" "scorer" {
  # checkov:skip=CKV_AWS_117:The scorer reaches only AWS APIs; a VPC adds NAT/endpoints cost without a private resource to reach.
  # checkov:skip=CKV_AWS_272:Code signing applies to zip packages; the scorer is a container image (lambda/Dockerfile).
  function_name                  = local.scorer_function
  role                           = aws_iam_role.scorer.arn
  package_type                   = "Image"
  image_uri                      = var.scorer_image_uri
  memory_size                    = 1024
  timeout                        = 60
  reserved_concurrent_executions = var.scorer_reserved_concurrency
  kms_key_arn                    = aws_kms_key.data.arn
  tracing_config {
    mode = "Active"
  }
  dead_letter_config {
    target_arn = aws_sqs_queue.queues[local.stream_failure_queue].arn
  }
  environment {
    variables = {
      SECUREBANK_TARGET                = "aws"
      SECUREBANK_PREFIX                = var.prefix
      SECUREBANK_ENVIRONMENT           = var.environment
      LATENCY_BUDGET_MS                = tostring(var.latency_budget_ms)
      SECUREBANK_ALERTS_TOPIC_ARN      = aws_sns_topic.alerts.arn
      SECUREBANK_DEAD_LETTER_QUEUE_URL = aws_sqs_queue.queues[local.dead_letter_queue].id
      POWERTOOLS_SERVICE_NAME          = "securebank-scorer"
      POWERTOOLS_METRICS_NAMESPACE     = "SecureBank"
    }
  }
  depends_on = [aws_cloudwatch_log_group.scorer]
}

resource "aws_lambda_event_source_mapping" "scorer" {
  # The enhanced fan-out consumer, not the stream: records are pushed, not polled once a second.
  event_source_arn                   = aws_kinesis_stream_consumer.scorer.arn
  function_name                      = aws_lambda_function.scorer.arn
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = var.scorer_batch_size
  maximum_batching_window_in_seconds = var.scorer_batching_window_seconds
  bisect_batch_on_function_error     = true
  # Retry a failed batch until it succeeds (-1), for as long as the stream keeps it (-1): the
  # scorer fails a batch only when a store is down, and a batch given up on is skipped.
  maximum_retry_attempts        = var.scorer_max_retry_attempts
  maximum_record_age_in_seconds = -1
  parallelization_factor        = 1
  function_response_types       = ["ReportBatchItemFailures"]
  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.queues[local.stream_failure_queue].arn
    }
  }
}
