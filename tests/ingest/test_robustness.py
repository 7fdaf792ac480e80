"""Property-based test of the validator, and a schemathesis fuzz run of the live API."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securebank.contract import Rejection, Transaction, parse_transaction
from securebank.pan import contains_pan

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
FIELDS = [
    "transaction_id",
    "event_time",
    "card_id",
    "customer_id",
    "merchant_id",
    "mcc",
    "amount",
    "currency",
    "merchant_country",
    "merchant_lat",
    "merchant_lon",
    "channel",
    "device_id",
    "status",
]
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        ["4111111111111111", "USD", "US", "pos", "approved", "2026-01-01T00:00:00Z", "12.50"]
    ),
)
records = st.dictionaries(st.sampled_from([*FIELDS, "extra"]), values, max_size=16)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(records, values, st.lists(values, max_size=3)))
def test_the_validator_never_raises_and_never_echoes_a_card_number(raw):
    result = parse_transaction(raw)
    assert isinstance(result, Transaction | Rejection)
    if isinstance(result, Rejection):
        assert result.problems
        assert not contains_pan(str(result))
    else:
        assert not any(contains_pan(str(v)) for v in result.model_dump().values())


def test_the_api_survives_a_schemathesis_fuzz_run(aws, tmp_path):
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    from securebank.cases.http import owns
    from securebank.inference.server import start_in_thread
    from securebank.ingest.keys import KeyStore
    from securebank.ingest.limits import SeenWindow
    from securebank.ingest.server import IngestServer

    keys = KeyStore(tmp_path / "keys.json")
    key, _ = keys.create("fuzz", rate_per_second=100_000, burst=100_000)
    server = IngestServer(
        ("127.0.0.1", 0), aws.client("kinesis"), aws.names.stream, keys, SeenWindow()
    )
    start_in_thread(server)
    try:
        schema = schemathesis.openapi.from_path(OPENAPI)
        schema.config.update(base_url=server.url, headers={"x-api-key": key})
        checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
        failures = []
        fuzzed = []
        for result in schema.get_all_operations():
            operation = result.ok()
            if owns(operation.path):
                continue  # the analyst routes: tests/ops/test_http.py runs them with their stores
            fuzzed.append(f"{operation.method.upper()} {operation.path}")
            strategy = operation.as_strategy()

            @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
            @given(strategy)
            def call(case):
                response = case.call()
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append((case.path, response.status_code, response.text[:200]))
                try:
                    case.validate_response(response, checks=checks)
                except Exception as error:
                    failures.append((case.path, response.status_code, str(error)[:300]))

            call()
    finally:
        server.shutdown()
        server.server_close()
    assert fuzzed == ["GET /health", "POST /transactions"]
    assert failures == []
