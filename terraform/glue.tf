# Compaction of the JSON-lines lake into daily Parquet: the Glue job runs glue/compact_lake.py,
# which ships securebank/analytics/compaction.py beside it (the code `securebank lake compact`
# runs locally). The compacted data, the raw transactions and the labels are Glue catalog tables
# (partition projection on `date`: no crawler), read by Athena and by Redshift's external schema.

variable "compaction_schedule" {
  description = "When the compaction job runs (Glue cron, UTC): after the day has closed."
  type        = string
  default     = "cron(30 0 * * ? *)"
}

variable "compaction_days" {
  description = "Days back the scheduled run looks at (late batches land on recent days)."
  type        = number
  default     = 3
}

locals {
  compacted_prefix = "compacted/decisions/"
  glue_script_key  = "glue/compact_lake.py"
  glue_module_key  = "glue/compaction.py"
}

resource "aws_s3_object" "glue_script" {
  bucket     = aws_s3_bucket.data["artifacts"].id
  key        = local.glue_script_key
  source     = "${path.module}/../glue/compact_lake.py"
  etag       = filemd5("${path.module}/../glue/compact_lake.py")
  kms_key_id = aws_kms_key.data.arn
}

resource "aws_s3_object" "glue_module" {
  bucket     = aws_s3_bucket.data["artifacts"].id
  key        = local.glue_module_key
  source     = "${path.module}/../securebank/analytics/compaction.py"
  etag       = filemd5("${path.module}/../securebank/analytics/compaction.py")
  kms_key_id = aws_kms_key.data.arn
}

resource "aws_glue_security_configuration" "lake" {
  name = "${local.base}-glue"
  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = aws_kms_key.data.arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = aws_kms_key.data.arn
    }
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = aws_kms_key.data.arn
    }
  }
}

resource "aws_glue_job" "compact_lake" {
  name                   = "${local.base}-compact-lake"
  description            = "JSON-lines decisions to daily Parquet (securebank lake compact)."
  role_arn               = aws_iam_role.glue.arn
  glue_version           = "3.0"
  max_capacity           = 1
  timeout                = 120
  max_retries            = 1
  security_configuration = aws_glue_security_configuration.lake.name
  command {
    name            = "pythonshell"
    python_version  = "3.9"
    script_location = "s3://${local.artifacts_bucket}/${local.glue_script_key}"
  }
  default_arguments = {
    "--lake_bucket"    = local.lake_bucket
    "--days"           = tostring(var.compaction_days)
    "--extra-py-files" = "s3://${local.artifacts_bucket}/${local.glue_module_key}"
    "library-set"      = "analytics"
  }
  # One run at a time: two runs compacting the same day would race on its manifest.
  execution_property {
    max_concurrent_runs = 1
  }
  depends_on = [aws_s3_object.glue_script, aws_s3_object.glue_module]
}

resource "aws_glue_trigger" "compact_lake_daily" {
  name     = "${local.base}-compact-lake-daily"
  type     = "SCHEDULED"
  schedule = var.compaction_schedule
  actions {
    job_name = aws_glue_job.compact_lake.name
  }
}

data "aws_iam_policy_document" "assume_glue" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "glue" {
  name               = "${local.base}-glue-compaction"
  assume_role_policy = data.aws_iam_policy_document.assume_glue.json
}

data "aws_iam_policy_document" "glue" {
  statement {
    sid       = "ListLake"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.data["lake"].arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["decisions/*", "compacted/*"]
    }
  }
  statement {
    sid       = "ReadDecisions"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.data["lake"].arn}/decisions/*"]
  }
  statement {
    sid       = "WriteCompacted"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.data["lake"].arn}/compacted/*"]
  }
  statement {
    sid       = "JobCode"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.data["artifacts"].arn}/glue/*"]
  }
  statement {
    sid       = "Encryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws-glue/*"]
  }
}

resource "aws_iam_role_policy" "glue" {
  name   = "compact-lake"
  role   = aws_iam_role.glue.id
  policy = data.aws_iam_policy_document.glue.json
}

# The compacted decisions: the columns of securebank/analytics/compaction.py DECISION_SCHEMA
# (tests/terraform/test_terraform.py holds the two together).
resource "aws_glue_catalog_table" "decisions_compacted" {
  name          = "decisions_compacted"
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    classification              = "parquet"
    "projection.enabled"        = "true"
    "projection.date.type"      = "date"
    "projection.date.format"    = "yyyy-MM-dd"
    "projection.date.range"     = "2024-01-01,NOW"
    "storage.location.template" = "s3://${local.lake_bucket}/${local.compacted_prefix}date=$${date}/"
  }
  partition_keys {
    name = "date"
    type = "string"
  }
  storage_descriptor {
    location      = "s3://${local.lake_bucket}/${local.compacted_prefix}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }
    dynamic "columns" {
      for_each = [
        ["transaction_id", "string"], ["card_id", "string"], ["merchant_id", "string"],
        ["event_time", "string"], ["amount", "string"], ["currency", "string"],
        ["merchant_country", "string"], ["mcc", "string"], ["score", "double"],
        ["action", "string"], ["review_threshold", "double"], ["decline_threshold", "double"],
        ["model_version", "string"], ["feature_set_version", "string"], ["scored_by", "string"],
        ["explain_method", "string"], ["reason_codes", "string"], ["shard_id", "string"],
        ["sequence_number", "string"], ["arrived_at_ms", "bigint"], ["decided_at_ms", "bigint"],
        ["features", "array<double>"], ["decided_at", "timestamp"],
      ]
      content {
        name = columns.value[0]
        type = columns.value[1]
      }
    }
  }
}

# The raw transactions (`securebank data upload`: one Parquet file per day) and the batch labels.
resource "aws_glue_catalog_table" "transactions" {
  name          = "transactions"
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    classification              = "parquet"
    "projection.enabled"        = "true"
    "projection.date.type"      = "date"
    "projection.date.format"    = "yyyy-MM-dd"
    "projection.date.range"     = "2020-01-01,NOW"
    "storage.location.template" = "s3://${local.lake_bucket}/raw/transactions/date=$${date}/"
  }
  partition_keys {
    name = "date"
    type = "string"
  }
  storage_descriptor {
    location      = "s3://${local.lake_bucket}/raw/transactions/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }
    dynamic "columns" {
      for_each = [
        ["transaction_id", "string"], ["event_time", "timestamp"], ["card_id", "string"],
        ["customer_id", "string"], ["merchant_id", "string"], ["mcc", "string"],
        ["amount", "decimal(18,4)"], ["currency", "string"], ["merchant_country", "string"],
        ["merchant_lat", "double"], ["merchant_lon", "double"], ["channel", "string"],
        ["device_id", "string"], ["status", "string"],
      ]
      content {
        name = columns.value[0]
        type = columns.value[1]
      }
    }
  }
}

resource "aws_glue_catalog_table" "labels" {
  name          = "labels"
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    classification = "parquet"
  }
  storage_descriptor {
    location      = "s3://${local.lake_bucket}/raw/labels/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }
    columns {
      name = "transaction_id"
      type = "string"
    }
    columns {
      name = "is_fraud"
      type = "boolean"
    }
    columns {
      name = "reported_at"
      type = "timestamp"
    }
    columns {
      name = "fraud_scenario"
      type = "string"
    }
  }
}

output "glue_database" {
  value = aws_glue_catalog_database.lake.name
}

output "compaction_job" {
  value = aws_glue_job.compact_lake.name
}
