"""The cost model: capacity units counted on real calls, and the monthly arithmetic."""

from __future__ import annotations

import json

import pytest

from securebank.cost import (
    HOURS_PER_MONTH,
    MEASURED,
    PRICES,
    CallMeter,
    Usage,
    item_size,
    monthly_cost,
    write_units,
)
from tests.cli.test_cli import securebank


def test_item_size_and_write_units_follow_dynamodbs_rules():
    item = {"pk": {"S": "card#1"}, "n": {"N": "12"}}
    assert item_size(item) == len("pk") + len("card#1") + len("n") + len("12")
    assert write_units(item) == 1
    assert write_units({"pk": {"S": "x" * 1022}}) == 1  # 2 + 1022 = 1,024 bytes: one unit
    assert write_units({"pk": {"S": "x" * 1023}}) == 2


def test_the_meter_counts_units_on_real_calls(aws):
    names = aws.names
    dynamodb = aws.client("dynamodb")
    meter = CallMeter({names.decisions_table: 1})
    meter.attach(dynamodb)
    big = "x" * 1500  # two write units
    dynamodb.batch_write_item(
        RequestItems={
            names.feature_table: [
                {"PutRequest": {"Item": {"pk": {"S": f"card#{i}"}, "v": {"S": big}}}}
                for i in range(3)
            ],
            names.decisions_table: [
                {
                    "PutRequest": {
                        "Item": {
                            "transaction_id": {"S": "t1"},
                            "card_id": {"S": "c1"},
                            "event_time": {"S": "2026-01-01T00:00:00"},
                        }
                    }
                }
            ],
        }
    )
    dynamodb.batch_get_item(
        RequestItems={names.feature_table: {"Keys": [{"pk": {"S": f"card#{i}"}} for i in range(3)]}}
    )
    used = meter.snapshot()
    assert used["calls"] == {"dynamodb.BatchWriteItem": 1, "dynamodb.BatchGetItem": 1}
    assert used["write_units_by_table"] == {names.feature_table: 6, names.decisions_table: 2}
    assert used["write_units"] == 8
    assert used["read_units"] == 3


USAGE = Usage(
    dynamodb_read_units=2.0,
    dynamodb_write_units=4.0,
    dynamodb_calls=0.1,
    record_bytes=400.0,
    lambda_invocations=0.1,
    lambda_ms_per_invocation=50.0,
    s3_puts=0.1,
    lake_bytes=1000.0,
    sns_requests=0.01,
    sqs_requests=0.0,
    log_bytes=20.0,
)


def test_monthly_cost_arithmetic():
    lines = {(x.service, x.what.split(" ")[0]): x.monthly_usd for x in monthly_cost(6000, USAGE)}
    month = 100 * 3600 * HOURS_PER_MONTH  # 6,000 a minute
    assert lines[("DynamoDB", "4.00")] == pytest.approx(
        month * 4 * PRICES.dynamodb_write_unit_million / 1e6
    )
    assert lines[("DynamoDB", "2.00")] == pytest.approx(
        month * 2 * PRICES.dynamodb_read_unit_million / 1e6
    )
    assert lines[("Kinesis", "2")] == pytest.approx(2 * HOURS_PER_MONTH * PRICES.kinesis_shard_hour)
    assert lines[("SageMaker", "1")] == pytest.approx(
        HOURS_PER_MONTH * PRICES.endpoint_instance_hour
    )
    # 3,000 records/s needs 3 shards, whatever is configured
    big = {x.what: x.monthly_usd for x in monthly_cost(180_000, USAGE)}
    assert big["3 shards"] == pytest.approx(3 * HOURS_PER_MONTH * PRICES.kinesis_shard_hour)
    with pytest.raises(ValueError, match="positive"):
        monthly_cost(0, USAGE)


def test_lambda_time_is_capped_by_one_invocation_per_shard():
    slow = Usage(**{**USAGE.__dict__, "lambda_ms_per_invocation": 60_000.0})
    (gb_s,) = [x for x in monthly_cost(6000, slow) if x.what.endswith("GB)")]
    assert gb_s.monthly_usd == pytest.approx(2 * HOURS_PER_MONTH * 3600 * PRICES.lambda_gb_second)


def test_smaller_batches_mean_more_invocations_and_lake_objects():
    small = USAGE.with_batch(2)
    assert small.lambda_invocations == 0.5
    assert small.s3_puts == 0.5  # one object per batch, as measured
    assert small.dynamodb_write_units == USAGE.dynamodb_write_units


def test_cost_command(tmp_path, capsys):
    from securebank.cli.app import main

    assert main(["cost", "--tpm", "10000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["monthly_usd"] == pytest.approx(
        sum(line["monthly_usd"] for line in report["lines"]), abs=0.05
    )
    assert report["usage_per_transaction"]["dynamodb_write_units"] == (
        MEASURED.dynamodb_write_units
    )
    usage = tmp_path / "usage.json"
    USAGE.save(usage)
    assert main(["cost", "--tpm", "6000", "--usage", str(usage), "--json"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert own["usage_per_transaction"]["dynamodb_write_units"] == 4.0
    assert main(["cost", "--tpm", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    (tmp_path / "broken.json").write_text("{}")
    broken = securebank("cost", "--usage", str(tmp_path / "broken.json"), cwd=tmp_path)
    assert broken.returncode == 1  # a real process: one line on stderr, no traceback
    assert broken.stderr.startswith("error: cannot read usage:")
    assert "Traceback" not in broken.stderr
