"""`securebank lake compact`, `warehouse load` and `warehouse query` on the local AWS."""

from __future__ import annotations

import json

import pytest

from securebank.cli.app import main
from securebank.settings import get_settings


@pytest.fixture
def cli(aws, local_aws, tmp_path, monkeypatch, capsys):
    for key, value in {
        "SECUREBANK_HOME": str(tmp_path / "home"),
        "SECUREBANK_PREFIX": aws.names.prefix,
        "SECUREBANK_ENVIRONMENT": aws.names.environment,
        "SECUREBANK_TARGET": "local",
        **local_aws.environment(),
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("securebank.cli.console.console.width", 200)
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    yield run
    get_settings.cache_clear()


def test_compact_load_and_query_the_kpis(aws, cli):
    record = {
        "transaction_id": "t1",
        "action": "decline",
        "amount": "12.00",
        "score": 0.97,
        "scored_by": "endpoint",
        "arrived_at_ms": 1_788_220_800_000,
        "decided_at_ms": 1_788_220_800_042,
    }
    aws.client("s3").put_object(
        Bucket=aws.names.lake_bucket,
        Key="decisions/date=2026-09-01/x.jsonl",
        Body=(json.dumps(record) + "\n{broken\n").encode(),
    )
    code, out, _ = cli("lake", "compact")
    assert code == 0 and "1 of 1 days compacted" in out and "1 lines rejected" in out
    code, out, _ = cli("lake", "compact")
    assert code == 0 and "0 of 1 days compacted" in out and "unchanged" in out
    code, out, _ = cli("warehouse", "load")
    assert code == 0 and "fraud.decisions: 1 rows" in out
    code, out, _ = cli("warehouse", "query", "--view", "daily_kpis")
    assert code == 0 and "2026-09-01" in out and "42.0" in out
    code, _, err = cli("warehouse", "query", "--view", "weekly")
    assert code == 1 and err.startswith("error: no view 'weekly'")
    code, _, err = cli("warehouse", "query", "SELECT nope FROM fraud.decisions")
    assert code == 1 and err.startswith("error: SQL error:")
    code, _, err = cli("lake", "compact", "--from", "yesterday")
    assert code == 1 and "--from takes a date" in err


def test_stream_shards_and_reshard(cli):
    code, out, _ = cli("stream", "shards")
    assert code == 0 and out.count("open") == 2
    code, out, _ = cli("stream", "reshard", "3")
    assert code == 0 and "2 → 3 open shards" in out
    code, out, _ = cli("stream", "shards")
    assert code == 0 and out.count("closed") >= 1 and "no" not in out.split()
    code, _, err = cli("stream", "reshard", "3")
    assert code == 1 and err.strip() == "error: the stream already has 3 open shards"
