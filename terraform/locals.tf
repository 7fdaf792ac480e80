# Names follow securebank/resources.py (ResourceNames): "<prefix>-<environment>-<suffix>".
# tests/test_terraform.py holds the two together.
locals {
  base       = "${var.prefix}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  lake_bucket           = "${local.base}-lake"
  artifacts_bucket      = "${local.base}-artifacts"
  access_logs_bucket    = "${local.base}-access-logs"
  athena_results_bucket = "${local.base}-athena-results"
  model_package_group   = "${local.base}-fraud-model"
  pipeline_name         = "${local.base}-training"
  endpoint_name         = "${local.base}-fraud-endpoint"
  stream_name           = "${local.base}-transactions"
  feature_table         = "${local.base}-feature-state"
  decisions_table       = "${local.base}-decisions"
  alerts_topic          = "${local.base}-alerts"
  ops_topic             = "${local.base}-ops"
  alerts_queue          = "${local.base}-alerts-cases"
  dead_letter_queue     = "${local.base}-invalid-transactions"
  stream_failure_queue  = "${local.base}-stream-failures"
  scorer_function       = "${local.base}-scorer"
  endpoint_alarm        = "${local.base}-endpoint-errors"
}
