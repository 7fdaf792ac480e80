locals {
  scorer_metric = { namespace = "SecureBank", service = "securebank-scorer" }
}

resource "aws_cloudwatch_dashboard" "platform" {
  dashboard_name = "${local.base}-platform"
  dashboard_body = jsonencode({
    widgets = [
      { type = "metric", width = 12, height = 6, properties = { title = "Throughput (records in)", region = var.region, stat = "Sum", period = 60,
      metrics = [["AWS/Kinesis", "IncomingRecords", "StreamName", local.stream_name]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Iterator age (ms)", region = var.region, stat = "Maximum", period = 60,
      metrics = [["AWS/Lambda", "IteratorAge", "FunctionName", local.scorer_function]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Batch latency (ms)", region = var.region, period = 60,
      metrics = [[local.scorer_metric.namespace, "BatchLatency", "service", local.scorer_metric.service, { stat = "p50" }], ["...", { stat = "p99" }]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Scored, fallbacks, alerts, dead letters", region = var.region, stat = "Sum", period = 60,
      metrics = [for m in ["Scored", "Fallbacks", "Alerts", "DeadLetters"] : [local.scorer_metric.namespace, m, "service", local.scorer_metric.service]] } },
      { type = "metric", width = 12, height = 6, properties = { title = "Endpoint latency (us)", region = var.region, period = 60,
      metrics = [["AWS/SageMaker", "ModelLatency", "EndpointName", local.endpoint_name, "VariantName", "AllTraffic", { stat = "p99" }]] } },
    ]
  })
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${local.base}-scorer-iterator-age"
  alarm_description   = "The scorer is falling behind the stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = local.scorer_function }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 60000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_metric_alarm" "fallback_rate" {
  alarm_name          = "${local.base}-scorer-fallback-rate"
  alarm_description   = "More than 5 % of decisions used the in-function fallback."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0.05
  evaluation_periods  = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
  metric_query {
    id          = "rate"
    expression  = "fallbacks / MAX([scored, 1])"
    label       = "fallback rate"
    return_data = true
  }
  metric_query {
    id = "fallbacks"
    metric {
      namespace   = local.scorer_metric.namespace
      metric_name = "Fallbacks"
      dimensions  = { service = local.scorer_metric.service }
      period      = 60
      stat        = "Sum"
    }
  }
  metric_query {
    id = "scored"
    metric {
      namespace   = local.scorer_metric.namespace
      metric_name = "Scored"
      dimensions  = { service = local.scorer_metric.service }
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${local.base}-invalid-transactions"
  alarm_description   = "Invalid transactions are arriving."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.dead_letter_queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_metric_alarm" "stream_failures" {
  alarm_name          = "${local.base}-stream-failures"
  alarm_description   = "Batches exhausted their retries and went to the on-failure queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.stream_failure_queue }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_metric_alarm" "endpoint_errors" {
  alarm_name          = local.endpoint_alarm
  alarm_description   = "Endpoint 5xx errors: rolls back a blue/green deployment."
  namespace           = "AWS/SageMaker"
  metric_name         = "Invocation5XXErrors"
  dimensions          = { EndpointName = local.endpoint_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 5
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}

resource "aws_cloudwatch_metric_alarm" "fraud_alert_rate" {
  alarm_name          = "${local.base}-alert-rate"
  alarm_description   = "Alerts per minute far above normal: an attack or a model problem."
  namespace           = local.scorer_metric.namespace
  metric_name         = "Alerts"
  dimensions          = { service = local.scorer_metric.service }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 500
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.ops.arn]
}
