locals {
  data_buckets = {
    lake      = local.lake_bucket
    artifacts = local.artifacts_bucket
    athena    = local.athena_results_bucket
  }
}

locals {
  all_buckets = merge(local.data_buckets, { logs = local.access_logs_bucket })
}

resource "aws_s3_bucket" "data" {
  # checkov:skip=CKV_AWS_18:The "logs" bucket receives the others' access logs; logging it into itself would loop.
  # checkov:skip=CKV_AWS_144:Cross-region replication is a deployment choice, not a default.
  # checkov:skip=CKV2_AWS_62:No consumer listens to object events; Kinesis feeds the scorer.
  for_each = local.all_buckets
  bucket   = each.value
}

resource "aws_s3_bucket_versioning" "all" {
  for_each = local.all_buckets
  bucket   = aws_s3_bucket.data[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "all" {
  for_each = local.all_buckets
  bucket   = aws_s3_bucket.data[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "all" {
  for_each                = local.all_buckets
  bucket                  = aws_s3_bucket.data[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_logging" "data" {
  for_each      = local.data_buckets
  bucket        = aws_s3_bucket.data[each.key].id
  target_bucket = aws_s3_bucket.data["logs"].id
  target_prefix = "${each.key}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "all" {
  for_each = local.all_buckets
  bucket   = aws_s3_bucket.data[each.key].id
  rule {
    id     = "tiering"
    status = "Enabled"
    filter {}
    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
    transition {
      days          = 180
      storage_class = "GLACIER"
    }
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.all_buckets
  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []
    content {
      sid       = "ServerAccessLogs"
      actions   = ["s3:PutObject"]
      resources = ["arn:${local.partition}:s3:::${each.value}/*"]
      principals {
        type        = "Service"
        identifiers = ["logging.s3.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }
  dynamic "statement" {
    for_each = each.key == "logs" && var.enable_cloudtrail ? ["GetBucketAcl", "PutObject"] : []
    content {
      sid       = "CloudTrail${statement.value}"
      actions   = ["s3:${statement.value}"]
      resources = statement.value == "PutObject" ? ["arn:${local.partition}:s3:::${each.value}/cloudtrail/*"] : ["arn:${local.partition}:s3:::${each.value}"]
      principals {
        type        = "Service"
        identifiers = ["cloudtrail.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      "arn:${local.partition}:s3:::${each.value}",
      "arn:${local.partition}:s3:::${each.value}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  for_each   = local.all_buckets
  bucket     = aws_s3_bucket.data[each.key].id
  policy     = data.aws_iam_policy_document.tls_only[each.key].json
  depends_on = [aws_s3_bucket_public_access_block.all]
}
