# Rules beside the model (securebank/rules): rule-set versions with their maker-checker record,
# and the named lists the rules read. The scorer only reads them; people change them through
# `securebank rules ...` with their own credentials.

locals {
  rules_table      = "${local.base}-rules"
  rule_lists_table = "${local.base}-rule-lists"
}

resource "aws_dynamodb_table" "rules" {
  name         = local.rules_table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  attribute {
    name = "pk"
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

resource "aws_dynamodb_table" "rule_lists" {
  name         = local.rule_lists_table
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "list_name"
  range_key    = "value"
  attribute {
    name = "list_name"
    type = "S"
  }
  attribute {
    name = "value"
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

data "aws_iam_policy_document" "scorer_rules" {
  statement {
    sid       = "ReadRules"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.rules.arn]
  }
  statement {
    sid       = "ReadRuleLists"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.rule_lists.arn]
  }
}

resource "aws_iam_role_policy" "scorer_rules" {
  role   = aws_iam_role.scorer.id
  policy = data.aws_iam_policy_document.scorer_rules.json
}

output "rules_table" {
  value = aws_dynamodb_table.rules.name
}

output "rule_lists_table" {
  value = aws_dynamodb_table.rule_lists.name
}
