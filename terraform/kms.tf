resource "aws_kms_key" "data" {
  description             = "${local.base}: every data store of the platform"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "data" {
  name          = "alias/${local.base}-data"
  target_key_id = aws_kms_key.data.key_id
}

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109:Key policies must name the key itself as "*"; access is limited to this account and these services.
  # checkov:skip=CKV_AWS_111:As above: "*" in a key policy means this key.
  # checkov:skip=CKV_AWS_356:As above: "*" in a key policy means this key.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
  statement {
    sid       = "ServicesInThisAccount"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        "sns.amazonaws.com", "sqs.amazonaws.com", "logs.${var.region}.amazonaws.com",
        "cloudwatch.amazonaws.com", "cloudtrail.amazonaws.com", "s3.amazonaws.com",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
