"""terraform/ checked offline: formatting, parsing, and the same resources as the local stack."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from securebank.local import stack as local_stack
from securebank.resources import (
    CASES_BY_STATUS_INDEX,
    DECISIONS_BY_CARD_INDEX,
    STATE_TTL_ATTRIBUTE,
    STREAM_SHARDS,
    ResourceNames,
)

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"


def _clean(value: Any) -> Any:
    """python-hcl2 keeps the quotes of strings and keys; drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    merged: dict[str, Any] = {"resource": {}, "locals": {}, "variable": {}, "output": {}}
    for path in sorted(TERRAFORM.glob("*.tf")):
        document = _clean(hcl2.load(path.open()))
        for block in document.get("resource", []):
            for kind, named in block.items():
                merged["resource"].setdefault(kind, {}).update(named)
        for block in document.get("locals", []):
            merged["locals"].update(block)
        for block in document.get("variable", []):
            merged["variable"].update(block)
        for block in document.get("output", []):
            merged["output"].update(block)
    return merged


def _resolve(config: dict[str, Any], text: str, names: ResourceNames) -> str:
    variables = {"prefix": names.prefix, "environment": names.environment}

    def replace(match: re.Match[str]) -> str:
        scope, name = match.group(1), match.group(2)
        if scope == "var":
            return variables[name]
        return _resolve(config, config["locals"][name], names)

    return re.sub(r"\$\{(local|var)\.([a-z_]+)\}", replace, text)


def test_terraform_is_formatted():
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed on this machine: `terraform fmt` not checked")
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(TERRAFORM)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"unformatted: {result.stdout}"


def test_every_file_parses_and_defines_what_the_code_needs(config):
    resources = config["resource"]
    for kind in (
        "aws_kms_key",
        "aws_s3_bucket",
        "aws_kinesis_stream",
        "aws_dynamodb_table",
        "aws_lambda_function",
        "aws_lambda_event_source_mapping",
        "aws_sns_topic",
        "aws_sqs_queue",
        "aws_sagemaker_model_package_group",
        "aws_api_gateway_rest_api",
        "aws_glue_catalog_table",
        "aws_athena_workgroup",
        "aws_cloudwatch_dashboard",
        "aws_cloudwatch_metric_alarm",
        "aws_cloudtrail",
        "aws_glue_job",
        "aws_glue_trigger",
        "aws_redshiftserverless_namespace",
        "aws_redshiftserverless_workgroup",
        "aws_config_configuration_recorder",
        "aws_config_config_rule",
    ):
        assert kind in resources, kind
    for output in (
        "stream_name",
        "feature_table",
        "decisions_table",
        "alerts_topic_arn",
        "dead_letter_queue_url",
        "model_package_group",
        "pipeline_role_arn",
    ):
        assert output in config["output"], output


def test_event_source_mapping_matches_the_scorers_contract(config):
    mapping = config["resource"]["aws_lambda_event_source_mapping"]["scorer"]
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["bisect_batch_on_function_error"] is True
    assert "on_failure" in mapping["destination_config"][0]
    # enhanced fan-out: the mapping reads from a registered consumer, batching window 0
    (consumer,) = config["resource"]["aws_kinesis_stream_consumer"].values()
    assert consumer["stream_arn"] == "${aws_kinesis_stream.transactions.arn}"
    assert mapping["event_source_arn"] == "${aws_kinesis_stream_consumer.scorer.arn}"
    assert mapping["maximum_batching_window_in_seconds"] == "${var.scorer_batching_window_seconds}"
    assert config["variable"]["scorer_batching_window_seconds"]["default"] == 0
    function = config["resource"]["aws_lambda_function"]["scorer"]
    assert function["package_type"] == "Image"
    assert function["tracing_config"][0]["mode"] == "Active"


def test_every_data_store_is_encrypted_with_the_platform_key(config):
    resources = config["resource"]
    for table in resources["aws_dynamodb_table"].values():
        assert table["server_side_encryption"][0]["kms_key_arn"] == "${aws_kms_key.data.arn}"
        assert table["point_in_time_recovery"][0]["enabled"] is True
    (stream,) = resources["aws_kinesis_stream"].values()
    assert stream["encryption_type"] == "KMS"
    for topic in resources["aws_sns_topic"].values():
        assert topic["kms_master_key_id"] == "${aws_kms_key.data.arn}"
    for queue in resources["aws_sqs_queue"].values():
        assert queue["kms_master_key_id"] == "${aws_kms_key.data.arn}"
    (sse,) = resources["aws_s3_bucket_server_side_encryption_configuration"].values()
    rule = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert rule["sse_algorithm"] == "aws:kms"
    (key,) = resources["aws_kms_key"].values()
    assert key["enable_key_rotation"] is True


def test_no_iam_statement_grants_every_action(config):
    text = "\n".join(p.read_text() for p in TERRAFORM.glob("iam.tf"))
    actions = re.findall(r"actions\s*=\s*\[([^\]]*)\]", text)
    assert actions and all('"*"' not in a and ':*"' not in a for a in actions)


def test_local_stack_creates_the_same_resources_as_terraform(config, aws):
    """One naming rule, one set of keys: the local AWS as provisioned matches terraform/."""
    names: ResourceNames = aws.names
    local = {
        k: _resolve(config, v, names) for k, v in config["locals"].items() if isinstance(v, str)
    }
    assert local["lake_bucket"] == names.lake_bucket
    assert local["artifacts_bucket"] == names.artifacts_bucket
    assert local["model_package_group"] == names.model_package_group
    assert local["endpoint_name"] == names.endpoint
    assert local["pipeline_name"] == names.pipeline

    kinesis = aws.client("kinesis").describe_stream(StreamName=local["stream_name"])
    shards = kinesis["StreamDescription"]["Shards"]
    assert len(shards) == STREAM_SHARDS == config["variable"]["stream_shard_count"]["default"]

    dynamodb = aws.client("dynamodb")
    tables = config["resource"]["aws_dynamodb_table"]
    for resource, table_name in (
        ("feature_state", local["feature_table"]),
        ("decisions", local["decisions_table"]),
        ("cases", local["cases_table"]),
        ("labels", local["labels_table"]),
    ):
        live = dynamodb.describe_table(TableName=table_name)["Table"]
        declared = tables[resource]
        assert live["KeySchema"] == [{"AttributeName": declared["hash_key"], "KeyType": "HASH"}]
        assert {a["AttributeName"]: a["AttributeType"] for a in live["AttributeDefinitions"]} == {
            a["name"]: a["type"] for a in declared["attribute"]
        }
    (cases_index,) = dynamodb.describe_table(TableName=local["cases_table"])["Table"][
        "GlobalSecondaryIndexes"
    ]
    (declared_cases_index,) = tables["cases"]["global_secondary_index"]
    assert cases_index["IndexName"] == declared_cases_index["name"] == CASES_BY_STATUS_INDEX
    labels_stream = dynamodb.describe_table(TableName=local["labels_table"])["Table"]
    if local_stack.dynamodb_server() == "moto":
        assert labels_stream["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    else:  # dynalite keeps no Streams: the local labels consumer scans the table instead
        assert "StreamSpecification" not in labels_stream
    assert tables["labels"]["stream_view_type"] == "NEW_IMAGE"
    # dynalite has no UpdateTimeToLive and never expires items (readers filter on the expiry
    # attribute, as in AWS where deletion lags up to days): where the local table reports a TTL,
    # it is terraform's attribute.
    ttl = dynamodb.describe_time_to_live(TableName=local["feature_table"])["TimeToLiveDescription"]
    assert ttl.get("AttributeName", STATE_TTL_ATTRIBUTE) == STATE_TTL_ATTRIBUTE
    assert tables["feature_state"]["ttl"][0]["attribute_name"] == STATE_TTL_ATTRIBUTE
    (index,) = dynamodb.describe_table(TableName=local["decisions_table"])["Table"][
        "GlobalSecondaryIndexes"
    ]
    (declared_index,) = tables["decisions"]["global_secondary_index"]
    assert index["IndexName"] == declared_index["name"] == DECISIONS_BY_CARD_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == [
        declared_index["hash_key"],
        declared_index["range_key"],
    ]

    topics = {  # every page: the session's other tests have made many topics
        t["TopicArn"].rsplit(":", 1)[1]
        for page in aws.client("sns").get_paginator("list_topics").paginate()
        for t in page["Topics"]
    }
    assert local["alerts_topic"] in topics
    listed = aws.client("sqs").list_queues(QueueNamePrefix=f"{names.prefix}-{names.environment}-")
    queues = {u.rsplit("/", 1)[1] for u in listed.get("QueueUrls", [])}
    for queue in ("alerts_queue", "dead_letter_queue", "stream_failure_queue"):
        assert local[queue] in queues


_ARROW_TO_GLUE = {
    "string": "string",
    "double": "double",
    "int64": "bigint",
    "list<item: double>": "array<double>",
    "timestamp[ms, tz=UTC]": "timestamp",
    "decimal128(18, 4)": "decimal(18,4)",
    "bool": "boolean",
}


def _glue_columns(table: dict[str, Any]) -> list[tuple[str, str]]:
    descriptor = table["storage_descriptor"][0]
    if "dynamic" in descriptor:
        return [tuple(c) for c in descriptor["dynamic"][0]["columns"]["for_each"]]
    return [(c["name"], c["type"]) for c in descriptor["columns"]]


def test_glue_tables_match_what_the_code_writes(config):
    """Compacted decisions, raw transactions, labels: the catalog says what the files hold."""
    from securebank.analytics.compaction import COMPACTED_PREFIX, DECISION_SCHEMA
    from securebank.contract import LABEL_SCHEMA, TRANSACTION_SCHEMA

    tables = config["resource"]["aws_glue_catalog_table"]
    for name, schema in (
        ("decisions_compacted", DECISION_SCHEMA),
        ("transactions", TRANSACTION_SCHEMA),
        ("labels", LABEL_SCHEMA),
    ):
        expected = [(f.name, _ARROW_TO_GLUE[str(f.type)]) for f in schema]
        assert _glue_columns(tables[name]) == expected, name
    assert config["locals"]["compacted_prefix"] == COMPACTED_PREFIX
    location = tables["decisions_compacted"]["storage_descriptor"][0]["location"]
    assert location == "s3://${local.lake_bucket}/${local.compacted_prefix}"


def test_glue_job_ships_the_code_that_runs_locally(config):
    resources = config["resource"]
    (job,) = resources["aws_glue_job"].values()
    (command,) = job["command"]
    assert command["name"] == "pythonshell" and command["python_version"] == "3.9"
    assert job["security_configuration"] == "${aws_glue_security_configuration.lake.name}"
    assert job["execution_property"][0]["max_concurrent_runs"] == 1
    arguments = job["default_arguments"]
    assert arguments["--lake_bucket"] == "${local.lake_bucket}"
    objects = resources["aws_s3_object"]
    root = TERRAFORM.parent
    assert (root / "glue" / "compact_lake.py").is_file()
    assert objects["glue_script"]["source"] == "${path.module}/../glue/compact_lake.py"
    module = objects["glue_module"]["source"].replace("${path.module}/../", "")
    assert (root / module).is_file() and module == "securebank/analytics/compaction.py"
    assert arguments["--extra-py-files"].endswith("${local.glue_module_key}")
    (trigger,) = resources["aws_glue_trigger"].values()
    assert trigger["type"] == "SCHEDULED"
    assert trigger["actions"][0]["job_name"] == "${aws_glue_job.compact_lake.name}"


def test_redshift_is_private_encrypted_and_has_its_own_role(config):
    resources = config["resource"]
    (namespace,) = resources["aws_redshiftserverless_namespace"].values()
    (workgroup,) = resources["aws_redshiftserverless_workgroup"].values()
    assert namespace["kms_key_id"] == "${aws_kms_key.data.arn}"
    assert namespace["manage_admin_password"] is True
    assert namespace["iam_roles"] == ["${aws_iam_role.redshift[0].arn}"]
    assert "admin_user_password" not in namespace
    assert workgroup["publicly_accessible"] is False
    assert workgroup["enhanced_vpc_routing"] is True
    parameters = {p["parameter_key"]: p["parameter_value"] for p in workgroup["config_parameter"]}
    assert parameters["require_ssl"] == "true"
    assert "redshift" in resources["aws_iam_role"]


def test_aws_config_rules_cover_what_we_deploy(config):
    rules = {r["id"] for r in config["locals"]["config_rules"].values()}
    assert {
        "S3_DEFAULT_ENCRYPTION_KMS",
        "DYNAMODB_TABLE_ENCRYPTED_KMS",
        "KINESIS_STREAM_ENCRYPTED",
        "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
        "S3_BUCKET_SSL_REQUESTS_ONLY",
        "CLOUD_TRAIL_ENABLED",
        "DYNAMODB_PITR_ENABLED",
        "LAMBDA_CONCURRENCY_CHECK",
    } <= rules
    assert config["variable"]["enable_config"]["default"] is False
    (recorder,) = config["resource"]["aws_config_configuration_recorder"].values()
    assert recorder["count"] == "${local.config_count}"
