# The scorer keeps a registry of every shard that held merchant partials (one item of the
# feature table, lambda/scorer/shards.py) so that resharding loses no merchant state. It
# may update that one item and nothing else with UpdateItem.
data "aws_iam_policy_document" "scorer_shard_registry" {
  statement {
    sid       = "ShardRegistry"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.feature_state.arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = ["meta#merchant-slots"]
    }
  }
}

resource "aws_iam_role_policy" "scorer_shard_registry" {
  name   = "shard-registry"
  role   = aws_iam_role.scorer.id
  policy = data.aws_iam_policy_document.scorer_shard_registry.json
}
