"""The ingest API over real HTTP, with moto's Kinesis behind it."""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.request

import pytest

from securebank.ingest.keys import KeyStore, split_key
from securebank.ingest.limits import SeenWindow
from securebank.ingest.server import IngestServer
from tests.builders import T0, txn


@pytest.fixture
def api(aws, tmp_path):
    from securebank.inference.server import start_in_thread

    keys = KeyStore(tmp_path / "keys.json")
    key, _ = keys.create("test", rate_per_second=1000, burst=600)
    slow, _ = keys.create("slow", rate_per_second=1, burst=2)
    server = IngestServer(
        ("127.0.0.1", 0), aws.client("kinesis"), aws.names.stream, keys, SeenWindow()
    )
    start_in_thread(server)
    yield server, key, slow, aws
    server.shutdown()
    server.server_close()


def post(server, body, key=None):
    data = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["x-api-key"] = key
    request = urllib.request.Request(
        server.url + "/transactions", data=data, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post_with_headers(server, body, key):
    data = json.dumps(body, default=str).encode()
    headers = {"Content-Type": "application/json", "x-api-key": key}
    request = urllib.request.Request(
        server.url + "/transactions", data=data, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def stream_records(aws):
    kinesis = aws.client("kinesis")
    records = []
    for shard in kinesis.describe_stream(StreamName=aws.names.stream)["StreamDescription"][
        "Shards"
    ]:
        iterator = kinesis.get_shard_iterator(
            StreamName=aws.names.stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += kinesis.get_records(ShardIterator=iterator)["Records"]
    return records


def _valid(i, **fields):
    record = txn(f"t{i}", T0, **fields)
    record["event_time"] = T0.isoformat()
    return record


def test_a_batch_is_validated_enqueued_by_card_and_rejects_explained(api):
    server, key, _, aws = api
    batch = [_valid(1), _valid(2, card_id="tok_b"), {**_valid(3), "amount": "-5"}]
    status, body = post(server, {"transactions": batch}, key)
    assert status == 202
    assert body["accepted"] == ["t1", "t2"] and body["duplicates"] == [] and body["failed"] == []
    (rejected,) = body["rejected"]
    assert (
        rejected["index"] == 2
        and rejected["transaction_id"] == "t3"
        and "amount" in rejected["reasons"]
    )
    records = stream_records(aws)
    assert sorted(r["PartitionKey"] for r in records) == ["tok_a", "tok_b"]
    assert {json.loads(r["Data"])["transaction_id"] for r in records} == {"t1", "t2"}


def test_a_retried_post_does_not_enqueue_twice(api):
    server, key, _, aws = api
    assert post(server, _valid(7), key)[1]["accepted"] == ["t7"]
    status, body = post(server, _valid(7), key)
    assert status == 202 and body["accepted"] == [] and body["duplicates"] == ["t7"]
    assert len(stream_records(aws)) == 1


def test_auth_and_rate_limit(api):
    server, key, slow, _ = api
    assert post(server, _valid(1))[0] == 401
    assert post(server, _valid(1), "sbk_00000000_forged")[0] == 403
    assert post(server, _valid(1), key[:-1] + ("x" if key[-1] != "x" else "y"))[0] == 403
    # The slow key (1/s, stored burst 2) still takes one full batch: burst is at least 500.
    status, body = post(server, {"transactions": [_valid(100 + i) for i in range(500)]}, slow)
    assert status == 202 and len(body["accepted"]) == 500
    status, body, headers = post_with_headers(server, _valid(999), slow)
    assert status == 429 and int(headers["Retry-After"]) >= 1


def test_bad_bodies_get_clear_errors(api):
    server, key, _, _ = api
    assert post(server, b"{not json", key) == (400, {"message": "body is not JSON"})
    assert post(server, [1, 2], key)[0] == 400
    status, body = post(server, {"transactions": [_valid(i) for i in range(501)]}, key)
    assert (status, body["message"]) == (400, "at most 500 transactions per request")
    status, body = post(server, {**_valid(1), "extra": 1}, key)
    assert status == 400 and body["rejected"][0]["reasons"]["extra"] == "unexpected field"


def test_no_key_or_card_number_reaches_the_log_or_the_answer(api, caplog):
    server, key, _, _ = api
    pan = "4111111111111111"
    with caplog.at_level(logging.INFO, logger="securebank.ingest"):
        status, body = post(server, _valid(9, card_id=pan), key)
    assert status == 400 and "card number" in json.dumps(body)
    assert pan not in json.dumps(body)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /transactions 400" in logged
    secret = split_key(key)[1]
    assert key not in logged and secret not in logged and pan not in logged


def test_keys_are_stored_hashed(tmp_path):
    # Many keys, so secrets whose URL-safe alphabet puts `_` early are covered on every run.
    store = KeyStore(tmp_path / "keys.json")
    created = [store.create(f"bank-{i}") for i in range(200)]
    stored = (tmp_path / "keys.json").read_text()
    for key, record in created:
        key_id, secret = split_key(key)
        assert key_id == record.key_id and key == f"sbk_{key_id}_{secret}"
        assert len(secret) >= 40  # 32 random bytes, base64
        assert secret not in stored and key not in stored
        assert record.digest == hashlib.sha256(key.encode()).hexdigest()
        assert store.verify(key) == record and store.verify(key + "x") is None
    assert split_key("sbk_abc") is None and split_key("sbk__secret") is None


def test_openapi_terraform_and_contract_describe_the_same_transaction():
    import re
    from pathlib import Path

    import yaml

    from securebank.contract import TRANSACTION_SCHEMA, Transaction

    root = Path(__file__).resolve().parents[2]
    spec = yaml.safe_load((root / "docs" / "openapi.yaml").read_text())
    schema = spec["components"]["schemas"]["Transaction"]
    api_tf = (root / "terraform" / "api.tf").read_text()
    required_tf = re.search(r"required = \[([^\]]*)\]", api_tf, re.S).group(1)
    properties_tf = re.findall(r"^\s+(\w+)\s+= \{ type", api_tf, re.M)
    contract_fields = set(Transaction.model_fields)
    optional = {name for name, f in Transaction.model_fields.items() if not f.is_required()}
    assert set(schema["properties"]) == contract_fields == set(TRANSACTION_SCHEMA.names)
    assert set(schema["required"]) == contract_fields - optional
    assert set(properties_tf) == contract_fields
    assert set(re.findall(r'"(\w+)"', required_tf)) == contract_fields - optional
    assert schema["additionalProperties"] is False and "additionalProperties = false" in api_tf


def test_the_openapi_document_is_valid_openapi_3_0():
    """A flow mapping with an unquoted comma still parses as YAML (into a nonsense key): only a
    validator of the OpenAPI schema itself catches it."""
    from pathlib import Path

    import yaml
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    document = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml").read_text()
    )
    validate(document)
    broken = yaml.safe_load(
        "{openapi: 3.0.3, info: {title: t, version: '1'}, paths: {/x: {get: {responses: "
        "{'200': {description: ok, but a comma}}}}}}"
    )
    with pytest.raises(OpenAPIValidationError):
        validate(broken)
