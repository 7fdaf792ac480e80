# Ingest: POST /transactions puts one transaction on the stream (partition key = card_id).
resource "aws_api_gateway_rest_api" "ingest" {
  name = "${local.base}-ingest"
  endpoint_configuration {
    types = ["REGIONAL"]
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_model" "transaction" {
  rest_api_id  = aws_api_gateway_rest_api.ingest.id
  name         = "Transaction"
  content_type = "application/json"
  schema = jsonencode({
    "$schema"            = "http://json-schema.org/draft-04/schema#"
    type                 = "object"
    additionalProperties = false
    required = ["transaction_id", "event_time", "card_id", "merchant_id", "amount",
    "currency"]
    properties = {
      transaction_id   = { type = "string", pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$" }
      event_time       = { type = "string" }
      card_id          = { type = "string", pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$" }
      customer_id      = { type = ["string", "null"], pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$" }
      merchant_id      = { type = "string", pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$" }
      mcc              = { type = ["string", "null"], pattern = "^[0-9]{4}$" }
      amount           = { type = "string", pattern = "^[0-9]+(\\.[0-9]{1,4})?$" }
      currency         = { type = "string", pattern = "^[A-Z]{3}$" }
      merchant_country = { type = ["string", "null"], pattern = "^[A-Z]{2}$" }
      merchant_lat     = { type = ["number", "null"], minimum = -90, maximum = 90 }
      merchant_lon     = { type = ["number", "null"], minimum = -180, maximum = 180 }
      channel          = { type = ["string", "null"], enum = ["pos", "ecommerce", "atm", "transfer", null] }
      device_id        = { type = ["string", "null"] }
      status           = { type = "string", enum = ["approved", "declined", "failed"] }
    }
  })
}

resource "aws_api_gateway_request_validator" "body" {
  rest_api_id           = aws_api_gateway_rest_api.ingest.id
  name                  = "body"
  validate_request_body = true
}

resource "aws_api_gateway_resource" "transactions" {
  rest_api_id = aws_api_gateway_rest_api.ingest.id
  parent_id   = aws_api_gateway_rest_api.ingest.root_resource_id
  path_part   = "transactions"
}

resource "aws_api_gateway_method" "post" {
  rest_api_id          = aws_api_gateway_rest_api.ingest.id
  resource_id          = aws_api_gateway_resource.transactions.id
  http_method          = "POST"
  authorization        = "NONE"
  api_key_required     = true
  request_validator_id = aws_api_gateway_request_validator.body.id
  request_models       = { "application/json" = aws_api_gateway_model.transaction.name }
}

resource "aws_api_gateway_integration" "kinesis" {
  rest_api_id             = aws_api_gateway_rest_api.ingest.id
  resource_id             = aws_api_gateway_resource.transactions.id
  http_method             = aws_api_gateway_method.post.http_method
  type                    = "AWS"
  integration_http_method = "POST"
  uri                     = "arn:${local.partition}:apigateway:${var.region}:kinesis:action/PutRecord"
  credentials             = aws_iam_role.api.arn
  request_templates = {
    "application/json" = <<-VTL
      {
        "StreamName": "${local.stream_name}",
        "PartitionKey": "$input.path('$.card_id')",
        "Data": "$util.base64Encode($input.body)"
      }
    VTL
  }
}

resource "aws_api_gateway_method_response" "accepted" {
  rest_api_id = aws_api_gateway_rest_api.ingest.id
  resource_id = aws_api_gateway_resource.transactions.id
  http_method = aws_api_gateway_method.post.http_method
  status_code = "202"
}

resource "aws_api_gateway_integration_response" "accepted" {
  rest_api_id        = aws_api_gateway_rest_api.ingest.id
  resource_id        = aws_api_gateway_resource.transactions.id
  http_method        = aws_api_gateway_method.post.http_method
  status_code        = aws_api_gateway_method_response.accepted.status_code
  response_templates = { "application/json" = "{\"accepted\": [\"$input.path('$.SequenceNumber')\"]}" }
  depends_on         = [aws_api_gateway_integration.kinesis]
}

resource "aws_api_gateway_deployment" "ingest" {
  rest_api_id = aws_api_gateway_rest_api.ingest.id
  triggers = {
    redeploy = sha1(jsonencode([aws_api_gateway_method.post, aws_api_gateway_integration.kinesis, aws_api_gateway_model.transaction]))
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/apigateway/${local.base}-ingest"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

resource "aws_api_gateway_stage" "ingest" {
  # checkov:skip=CKV2_AWS_29:WAF is a per-organisation choice; throttling and API keys are on.
  # checkov:skip=CKV2_AWS_51:Client certificates are for backends behind the gateway; the backend is Kinesis via IAM.
  # checkov:skip=CKV_AWS_120:Caching a write API would drop transactions.
  deployment_id        = aws_api_gateway_deployment.ingest.id
  rest_api_id          = aws_api_gateway_rest_api.ingest.id
  stage_name           = var.environment
  xray_tracing_enabled = true
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format          = jsonencode({ requestId = "$context.requestId", status = "$context.status", ip = "$context.identity.sourceIp", latency = "$context.responseLatency" })
  }
}

resource "aws_api_gateway_method_settings" "all" {
  # checkov:skip=CKV_AWS_225:Caching a write API would drop transactions.
  rest_api_id = aws_api_gateway_rest_api.ingest.id
  stage_name  = aws_api_gateway_stage.ingest.stage_name
  method_path = "*/*"
  settings {
    metrics_enabled        = true
    logging_level          = "ERROR"
    data_trace_enabled     = false
    throttling_rate_limit  = var.api_rate_limit
    throttling_burst_limit = var.api_burst_limit
  }
}

resource "aws_api_gateway_api_key" "default" {
  name = "${local.base}-ingest-default"
}

resource "aws_api_gateway_usage_plan" "ingest" {
  name = "${local.base}-ingest"
  api_stages {
    api_id = aws_api_gateway_rest_api.ingest.id
    stage  = aws_api_gateway_stage.ingest.stage_name
  }
  throttle_settings {
    rate_limit  = var.api_rate_limit
    burst_limit = var.api_burst_limit
  }
}

resource "aws_api_gateway_usage_plan_key" "default" {
  key_id        = aws_api_gateway_api_key.default.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.ingest.id
}
