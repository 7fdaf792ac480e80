resource "aws_glue_catalog_database" "lake" {
  name = replace("${local.base}_lake", "-", "_")
}

resource "aws_glue_catalog_table" "decisions" {
  name          = "decisions"
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    classification              = "json"
    "projection.enabled"        = "true"
    "projection.date.type"      = "date"
    "projection.date.format"    = "yyyy-MM-dd"
    "projection.date.range"     = "2024-01-01,NOW"
    "storage.location.template" = "s3://${local.lake_bucket}/decisions/date=$${date}/"
  }
  partition_keys {
    name = "date"
    type = "string"
  }
  storage_descriptor {
    location      = "s3://${local.lake_bucket}/decisions/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
    }
    dynamic "columns" {
      for_each = {
        transaction_id  = "string", card_id = "string", merchant_id = "string", event_time = "string",
        amount          = "string", currency = "string", merchant_country = "string", mcc = "string",
        score           = "double", action = "string", review_threshold = "double", decline_threshold = "double",
        model_version   = "string", feature_set_version = "string", scored_by = "string",
        explain_method  = "string", reason_codes = "string", shard_id = "string",
        sequence_number = "string", arrived_at_ms = "bigint", decided_at_ms = "bigint"
      }
      content {
        name = columns.key
        type = columns.value
      }
    }
  }
}

resource "aws_athena_workgroup" "analytics" {
  name = "${local.base}-analytics"
  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    result_configuration {
      output_location = "s3://${local.athena_results_bucket}/results/"
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.data.arn
      }
    }
  }
}

resource "aws_cloudtrail" "data_events" {
  # checkov:skip=CKV_AWS_252:The trail writes to S3; SNS notification of deliveries is optional.
  # checkov:skip=CKV2_AWS_10:CloudWatch Logs delivery of the trail is optional.
  count                      = var.enable_cloudtrail ? 1 : 0
  name                       = "${local.base}-data-events"
  s3_bucket_name             = aws_s3_bucket.data["logs"].id
  s3_key_prefix              = "cloudtrail"
  kms_key_id                 = aws_kms_key.data.arn
  enable_log_file_validation = true
  is_multi_region_trail      = true
  event_selector {
    read_write_type           = "WriteOnly"
    include_management_events = true
    data_resource {
      type   = "AWS::S3::Object"
      values = ["${aws_s3_bucket.data["lake"].arn}/"]
    }
    data_resource {
      type   = "AWS::DynamoDB::Table"
      values = [aws_dynamodb_table.decisions.arn]
    }
  }
}
