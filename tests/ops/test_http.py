"""The case and outcome routes on the real API server, with ingest and analyst keys, and the
OpenAPI document (docs/openapi.yaml) held to what that server serves and answers."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from unittest.mock import ANY

import pytest
import yaml

from securebank.cases import http
from securebank.cases.model import case_from_alert
from securebank.cases.service import Operations
from securebank.cases.store import CaseStore
from securebank.ingest.keys import KeyStore
from securebank.ingest.limits import SeenWindow
from securebank.ingest.server import IngestServer
from securebank.labels.store import LabelStore
from tests.ops.helpers import alert_json, labels_keep_changing, put_decision


@pytest.fixture
def api(aws, tmp_path):
    keys = KeyStore(tmp_path / "keys.json")
    ingest_key, _ = keys.create("producer")
    analyst_key, _ = keys.create("alice", scopes=("analyst",))
    operations = Operations.build(aws, aws.names)
    server = IngestServer(
        ("127.0.0.1", 0),
        aws.client("kinesis"),
        aws.names.stream,
        keys,
        SeenWindow(),
        operations=operations,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.url, ingest_key, analyst_key, operations
    server.shutdown()
    server.server_close()


@pytest.fixture
def down_url(tmp_path):
    """An API server whose stores are down: its DynamoDB endpoint accepts each connection and
    closes it unanswered. It reads the `api` fixture's keys (same tmp_path)."""
    import socket

    import boto3
    from botocore.config import Config

    from securebank.labels.store import DecisionLookup, LabelStore

    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()[:2]

    def refuse() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=refuse, daemon=True).start()
    db = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=f"http://{host}:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=5),
    )
    operations = Operations(
        cases=CaseStore(db, "cases"),
        labels=LabelStore(db, "labels"),
        lookup=DecisionLookup(db, "decisions"),
        log=None,
        dynamodb=db,
        decisions_table="decisions",
    )
    server = IngestServer(
        ("127.0.0.1", 0),
        None,
        "none",
        KeyStore(tmp_path / "keys.json"),
        SeenWindow(),
        operations=operations,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.url
    server.shutdown()
    server.server_close()
    listener.close()


def call(url: str, key: str | None, method: str = "GET", body=None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if key:
        request.add_header("x-api-key", key)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_scopes_keep_ingest_and_analyst_keys_apart(api):
    url, ingest_key, analyst_key, _ = api
    assert call(f"{url}/cases", None)[0] == 401
    assert call(f"{url}/cases", "sbk_0000_nope")[0] == 403
    status, body = call(f"{url}/cases", ingest_key)
    assert (status, body["message"]) == (403, "this API key lacks the analyst scope")
    status, body = call(f"{url}/transactions", analyst_key, "POST", {"transaction_id": "x"})
    assert (status, body["message"]) == (403, "this API key lacks the ingest scope")
    status, body = call(f"{url}/cases/x/outcome", ingest_key, "POST", {"outcome": "fraud"})
    assert status == 403


def test_an_analyst_lists_reads_and_resolves_a_case_over_http(api):
    url, _, analyst_key, operations = api
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    status, body = call(f"{url}/cases", analyst_key)
    assert status == 200 and [c["case_id"] for c in body["cases"]] == ["t-1"]
    assert body["cases"][0]["top_reasons"] == ["card_count_1h"]
    assert call(f"{url}/cases/t-1", analyst_key)[1]["status"] == "open"
    status, body = call(f"{url}/cases/t-1/assign", analyst_key, "POST", {"to": "bob"})
    assert (status, body["assignee"]) == (200, "bob")
    status, body = call(
        f"{url}/cases/t-1/outcome", analyst_key, "POST", {"outcome": "fraud", "note": "called"}
    )
    assert (status, body["status"], body["outcome"]) == (200, "resolved", "fraud")
    assert body["audit"][-1]["who"] == "alice"
    assert operations.labels.get("t-1").is_fraud is True
    status, body = call(f"{url}/cases/t-1/outcome", analyst_key, "POST", {"outcome": "legit"})
    assert status == 409 and "already resolved" in body["message"]
    assert call(f"{url}/cases/nope", analyst_key)[0] == 404
    assert call(f"{url}/cases/t-1/outcome", analyst_key, "POST", {"outcome": "x"})[0] == 400
    assert call(f"{url}/cases?status=lost", analyst_key)[0] == 400
    status, body = call(f"{url}/cases?status=resolved", analyst_key)
    assert [c["case_id"] for c in body["cases"]] == ["t-1"]


def test_outcomes_endpoint_takes_chargebacks_and_refuses_bad_rows(aws, api):
    url, _, analyst_key, operations = api
    put_decision(
        aws.client("dynamodb"), aws.names.decisions_table, "t-7", "m-2", "2026-09-01T00:00:00Z"
    )
    status, body = call(
        f"{url}/outcomes",
        analyst_key,
        "POST",
        {
            "outcomes": [
                {"transaction_id": "t-7", "reported_at": "2026-09-20T00:00:00Z"},
                {"transaction_id": "t-8", "reported_at": "never"},
            ]
        },
    )
    assert status == 202 and (body["accepted"], body["recorded"]) == (1, 1)
    assert body["rejected"] == [
        {"row": 2, "reason": "reported_at must be an ISO 8601 time", "transaction_id": "t-8"}
    ]
    record = operations.labels.get("t-7")
    assert (record.merchant_id, record.source.value) == ("m-2", "chargeback")
    assert call(f"{url}/outcomes", analyst_key, "POST", {"outcomes": []})[0] == 400


def test_old_key_records_without_scopes_are_ingest_keys(tmp_path):
    store = KeyStore(tmp_path / "keys.json")
    key, record = store.create("old")
    document = json.loads(store.path.read_text())
    del document[record.key_id]["scopes"]
    store.path.write_text(json.dumps(document))
    assert store.verify(key).scopes == ("ingest",)
    with pytest.raises(ValueError, match="scopes must be"):
        store.create("x", scopes=("admin",))


def test_card_numbers_are_refused_and_never_echoed_or_logged(api, caplog):
    import logging

    url, _, analyst_key, operations = api
    pan = "4111111111111111"
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    with caplog.at_level(logging.INFO, logger="securebank.ingest"):
        status, body = call(f"{url}/cases/{pan}", analyst_key)
        assert status == 400 and pan not in json.dumps(body)
        status, body = call(
            f"{url}/cases/t-1/outcome",
            analyst_key,
            "POST",
            {"outcome": "fraud", "note": f"card {pan} called"},
        )
        assert status == 400 and "card number" in body["message"] and pan not in json.dumps(body)
        status, body = call(
            f"{url}/outcomes",
            analyst_key,
            "POST",
            {"outcomes": [{"transaction_id": pan, "reported_at": "2026-09-20"}]},
        )
        assert status == 400 and pan not in json.dumps(body)
    assert pan not in caplog.text and "/cases/{id}" in caplog.text
    assert operations.cases.get("t-1").status.value == "open"


def raw_exchange(url: str, data: bytes) -> list[tuple[int, bytes]]:
    """Send `data` on one connection and read until the server closes it: the (status, body)
    of every response it sent, in order."""
    import re
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    answers = []
    for match in re.finditer(rb"HTTP/1\.[01] (\d{3}) [^\r]*\r\n(.*?)\r\n\r\n", received, re.S):
        length = re.search(rb"(?im)^content-length: *(\d+)", match.group(2))
        start = match.end()
        body = received[start : start + int(length.group(1))] if length else b""
        answers.append((int(match.group(1)), body))
    return answers


def test_a_body_the_server_does_not_read_is_never_taken_for_the_next_request(api):
    """A chunked body, or one framed by a Content-Length that is not a plain number, is refused
    and the connection closed: the request reader never waited for such a body, so reading it
    (or leaving it on the connection) would mistake its bytes for another request."""
    url, _, analyst_key, operations = api
    body = b'{"outcomes": [{"transaction_id": "t-9", "reported_at": "2026-09-20"}]}'
    head = f"POST /outcomes HTTP/1.1\r\nHost: x\r\nx-api-key: {analyst_key}\r\n".encode()
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answers = raw_exchange(url, chunked)
    assert [status for status, _ in answers] == [411]
    assert json.loads(answers[0][1])["message"] == "Content-Length is required (no chunked bodies)"
    for length in (f"+{len(body)}", f"{len(body) // 10}_{len(body) % 10}"):
        odd = head + f"Content-Length: {length}\r\nConnection: close\r\n\r\n".encode() + body
        answers = raw_exchange(url, odd)
        assert [status for status, _ in answers] == [400], length
        assert "Content-Length" in json.loads(answers[0][1])["message"]
    assert operations.labels.get("t-9") is None


def test_an_answer_after_which_the_server_closes_says_connection_close(api):
    """A pooling client (requests) must not send its next request on a connection the server
    closes after refusing a body: the answer says `Connection: close`, a kept one does not."""
    import requests

    url, ingest_key, analyst_key, _ = api
    session = requests.Session()
    for path, key in (("/outcomes", analyst_key), ("/transactions", ingest_key)):
        headers = {"x-api-key": key, "Content-Type": "application/json"}
        response = session.post(f"{url}{path}", data=iter([b"{}"]), headers=headers, timeout=10)
        assert (response.status_code, response.headers.get("Connection")) == (411, "close")
        health = session.get(f"{url}/health", timeout=10)
        assert health.status_code == 200 and "Connection" not in health.headers
        assert session.get(f"{url}/health", timeout=10).json() == {"status": "ok"}


def test_a_body_sent_with_a_get_is_not_read_as_the_next_request(api):
    url, _, analyst_key, operations = api
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    stray = b"XGET /cases HTTP/1.1"
    first = (
        f"GET /cases/t-1 HTTP/1.1\r\nHost: x\r\nx-api-key: {analyst_key}\r\n"
        f"Content-Length: {len(stray)}\r\n\r\n"
    ).encode() + stray
    health = f"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: {len(stray)}\r\n\r\n".encode()
    last = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answers = raw_exchange(url, first + health + stray + last)
    assert [status for status, _ in answers] == [200, 200, 200]
    assert json.loads(answers[0][1])["case_id"] == "t-1"
    assert json.loads(answers[2][1]) == {"status": "ok"}


def test_a_status_asked_twice_lists_each_case_once(api):
    url, _, analyst_key, operations = api
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    status, body = call(f"{url}/cases?status=open,open", analyst_key)
    assert status == 200 and [c["case_id"] for c in body["cases"]] == ["t-1"]


OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def documented_routes(spec: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method.upper() in METHODS
    }


def test_the_spec_names_exactly_the_routes_the_server_serves(api, tmp_path):
    """Every (method, path) the server answers as a route is in the spec, and nothing else.

    Candidates: the spec's paths, the routes cases/http.py matches (its actions read from its
    own pattern) and near misses. A route is not served when the server answers 404 "not found",
    405 or 501, with a key that has every scope."""
    url = api[0]
    key, _ = KeyStore(tmp_path / "keys.json").create("ops", scopes=("ingest", "analyst"))
    spec = yaml.safe_load(OPENAPI.read_text())
    actions = re.fullmatch(r".*\(([a-z|]+)\)\$", http._ACTION.pattern).group(1).split("|")
    assert sorted(actions) == ["assign", "outcome"]
    candidates = set(spec["paths"]) | {
        "/cases",
        "/cases/{id}",
        *(f"/cases/{{id}}/{action}" for action in actions),
        "/outcomes",
        "/",
        "/cases/",
        "/cases/{id}/{id}",
        "/cases/{id}/assign/{id}",
        "/outcomes/{id}",
        "/health/{id}",
        "/transactions/{id}",
    }
    served = set()
    for template in sorted(candidates):
        path = template.replace("{id}", "no-such-case")
        for method in METHODS:
            status, body = call(f"{url}{path}", key, method, None if method == "GET" else {})
            if status not in (405, 501) and body != {"message": "not found"}:
                served.add((method, template))
    assert served == documented_routes(spec)
    for method, path in served:  # the key each route needs (what 403 means is tested below)
        operation = spec["paths"][path][method.lower()]
        scope = "analyst" if http.owns(path) else "ingest" if path == "/transactions" else None
        assert operation.get("x-required-scope") == scope, (method, path)
        assert operation.get("security") == (
            [{"analystKey": []}] if scope == "analyst" else [] if scope is None else None
        ), (method, path)
    assert spec["security"] == [{"apiKey": []}]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["analystKey"] == {**schemes["apiKey"], "description": ANY}
    assert {route for route in served if http.owns(route[1])} == {
        ("GET", "/cases"),
        ("GET", "/cases/{id}"),
        ("POST", "/cases/{id}/assign"),
        ("POST", "/cases/{id}/outcome"),
        ("POST", "/outcomes"),
    }


def test_every_documented_status_of_the_analyst_routes_is_answered_as_the_spec_says(api, down_url):
    """Real answers from the live server, success and every error status the code returns,
    each validated against the spec's schema for its status; per analyst route, the statuses seen
    are exactly the documented ones."""
    schemathesis = pytest.importorskip("schemathesis")
    import requests

    url, ingest_key, analyst_key, operations = api
    spec = yaml.safe_load(OPENAPI.read_text())
    schema = schemathesis.openapi.from_path(OPENAPI)
    for tid, opened in (("t-2", "2026-09-01T10:00:02Z"), ("t-1", "2026-09-01T10:00:01Z")):
        operations.cases.create(case_from_alert(alert_json(tid), opened))
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    session = requests.Session()

    def check(method: str, template: str, path: str, key: str | None = analyst_key, base=url, **kw):
        headers = {"x-api-key": key} if key else {}
        response = session.request(method, f"{base}{path}", headers=headers, timeout=10, **kw)
        responses = spec["paths"][template][method.lower()]["responses"]
        assert str(response.status_code) in responses, (method, path, response.text)
        schema[template][method].validate_response(response)
        seen[(method, template)].add(response.status_code)
        return response

    def chunked():
        yield b'{"to": "bob"}'

    too_large = b" " * (http.MAX_BODY_BYTES + 1)
    check("GET", "/health", "/health", None)
    check("POST", "/transactions", "/transactions", json={"transaction_id": "t-1"})
    for key in (None, ingest_key):
        check("GET", "/cases", "/cases", key)
        check("GET", "/cases/{id}", "/cases/t-1", key)
        for action in ("assign", "outcome"):
            check("POST", f"/cases/{{id}}/{action}", f"/cases/t-1/{action}", key, json={})
        check("POST", "/outcomes", "/outcomes", key, json={})
    cases = check("GET", "/cases", "/cases?status=open&limit=5000").json()["cases"]
    assert [c["case_id"] for c in cases] == ["t-1", "t-2"]
    check("GET", "/cases", "/cases?status=open,lost")
    check("GET", "/cases", "/cases?limit=ten")
    check("GET", "/cases/{id}", "/cases/t-1")
    check("GET", "/cases/{id}", "/cases/nope")
    check("GET", "/cases/{id}", "/cases/4111111111111111")
    assert check("POST", "/cases/{id}/assign", "/cases/t-1/assign", json={"to": "bob"}).ok
    for path, body in (
        ("/cases/t-1/assign", {"to": "bob"}),  # 409: already bob's
        ("/cases/t-1/assign", {"to": "bob!"}),  # 400: not a name
        ("/cases/t-1/assign", {}),
        ("/cases/nope/assign", {"to": "bob"}),
    ):
        check("POST", "/cases/{id}/assign", path, json=body)
    check("POST", "/cases/{id}/assign", "/cases/t-1/assign", data=b"[1]")
    check("POST", "/cases/{id}/assign", "/cases/t-1/assign", data=chunked())
    check("POST", "/cases/{id}/assign", "/cases/t-1/assign", data=too_large)
    resolved = check(
        "POST", "/cases/{id}/outcome", "/cases/t-1/outcome", json={"outcome": "fraud", "note": "ok"}
    ).json()
    assert (resolved["status"], resolved["outcome"], resolved["assignee"]) == (
        "resolved",
        "fraud",
        "bob",
    )
    for path, body in (
        ("/cases/t-1/outcome", {"outcome": "fraud"}),  # 200: the same outcome again
        ("/cases/t-1/outcome", {"outcome": "legit"}),  # 409: already resolved as fraud
        ("/cases/t-2/outcome", {"outcome": "maybe"}),
        ("/cases/t-2/outcome", {"outcome": "legit", "note": 5}),
        ("/cases/nope/outcome", {"outcome": "legit"}),
    ):
        check("POST", "/cases/{id}/outcome", path, json=body)
    check("POST", "/cases/{id}/assign", "/cases/t-1/assign", json={"to": "carol"})  # 409
    check("POST", "/cases/{id}/outcome", "/cases/t-2/outcome", data=chunked())
    check("POST", "/cases/{id}/outcome", "/cases/t-2/outcome", data=too_large)
    row = {"transaction_id": "t-7", "reported_at": "2026-09-20T00:00:00Z"}
    report = check(
        "POST", "/outcomes", "/outcomes", json={"outcomes": [row, {"transaction_id": "t-8"}]}
    ).json()
    assert (report["accepted"], report["rejected"][0]["row"]) == (1, 2)
    check("POST", "/outcomes", "/outcomes", json={**row, "is_fraud": "no", "source": "report"})
    check("POST", "/outcomes", "/outcomes", json={"outcomes": [{"transaction_id": "t-8"}]})
    check("POST", "/outcomes", "/outcomes", json={"outcomes": []})
    check("POST", "/outcomes", "/outcomes", json={"outcomes": [row] * (http.MAX_OUTCOMES + 1)})
    check("POST", "/outcomes", "/outcomes", data=chunked())
    check("POST", "/outcomes", "/outcomes", data=too_large)
    rival = LabelStore(operations.dynamodb, operations.labels.table)
    with labels_keep_changing(operations.labels, rival):
        fresh = {**row, "transaction_id": "t-9"}  # t-7's event is recorded: nothing to write
        check("POST", "/outcomes", "/outcomes", json={"outcomes": [fresh]})  # 409: try again
    assert operations.cases.get("t-2").status.value == "open"
    # The same routes on a server whose DynamoDB is down.
    check("GET", "/cases", "/cases", base=down_url)
    check("GET", "/cases/{id}", "/cases/t-1", base=down_url)
    check("POST", "/cases/{id}/assign", "/cases/t-1/assign", base=down_url, json={"to": "bob"})
    check(
        "POST",
        "/cases/{id}/outcome",
        "/cases/t-1/outcome",
        base=down_url,
        json={"outcome": "fraud"},
    )
    check("POST", "/outcomes", "/outcomes", base=down_url, json={"outcomes": [row]})
    for method, template in documented_routes(spec):
        if http.owns(template):
            documented = {int(s) for s in spec["paths"][template][method.lower()]["responses"]}
            assert seen[(method, template)] == documented, (method, template)


def test_a_schemathesis_run_on_the_analyst_routes_gets_only_documented_answers(api):
    """Bodies, ids and queries generated from the spec, sent with an analyst key: every answer
    is a documented status with a conforming body (a few examples per route, bounded)."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    url, _, analyst_key, operations = api
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    schema = schemathesis.openapi.from_path(OPENAPI)
    schema.config.update(base_url=url, headers={"x-api-key": analyst_key})
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not http.owns(operation.path):
            continue

        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def exchange(case):
            case.validate_response(case.call(timeout=10), checks=checks)

        exchange()
        fuzzed.append(f"{operation.method.upper()} {operation.path}")
    assert sorted(fuzzed) == [
        "GET /cases",
        "GET /cases/{id}",
        "POST /cases/{id}/assign",
        "POST /cases/{id}/outcome",
        "POST /outcomes",
    ]


def test_a_percent_encoded_case_id_in_the_path_is_decoded(api):
    """Case ids may hold `:`, which clients (requests, schemathesis, `quote(id, safe="")`)
    send as `%3A`: the route decodes the id before it checks it; a card number stays refused."""
    url, _, analyst_key, operations = api
    operations.cases.create(case_from_alert(alert_json("pos:1"), "2026-09-01T10:00:01Z"))
    status, body = call(f"{url}/cases/pos%3A1", analyst_key)
    assert (status, body["case_id"]) == (200, "pos:1")
    status, body = call(f"{url}/cases/pos%3a1/assign", analyst_key, "POST", {"to": "bob"})
    assert (status, body["assignee"]) == (200, "bob")
    status, body = call(f"{url}/cases/pos%3A1/outcome", analyst_key, "POST", {"outcome": "legit"})
    assert (status, body["outcome"]) == (200, "legit")
    status, body = call(f"{url}/cases/4111%201111%201111%201111", analyst_key)
    assert status == 400 and "1111" not in body["message"]
    assert call(f"{url}/cases/pos%2F1", analyst_key)[0] == 400


def test_a_store_that_fails_is_answered_503_not_a_dropped_connection(api, down_url):
    """DynamoDB unreachable: each analyst route answers 503 with Retry-After (before, the
    worker's exception closed the connection with no answer at all)."""
    import requests

    analyst_key = api[2]
    row = {"transaction_id": "t-7", "reported_at": "2026-09-20T00:00:00Z"}
    for method, path, body in (
        ("GET", "/cases", None),
        ("GET", "/cases/t-1", None),
        ("POST", "/cases/t-1/assign", {"to": "bob"}),
        ("POST", "/cases/t-1/outcome", {"outcome": "fraud"}),
        ("POST", "/outcomes", {"outcomes": [row]}),
    ):
        response = requests.request(
            method, f"{down_url}{path}", json=body, headers={"x-api-key": analyst_key}, timeout=10
        )
        assert response.status_code == 503, (path, response.text)
        assert response.json() == {"message": "a store is unavailable; try again"}
        assert response.headers["Retry-After"] == "1"


def test_a_name_or_id_with_a_trailing_newline_is_refused(api):
    url, _, analyst_key, operations = api
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    status, body = call(f"{url}/cases/t-1/assign", analyst_key, "POST", {"to": "bob\n"})
    assert status == 400 and body["message"].startswith("assignee must be")
    assert call(f"{url}/cases/t-1%0A", analyst_key)[0] == 400
    assert operations.cases.get("t-1").assignee is None


def test_an_assignee_that_is_not_text_is_refused_not_turned_into_a_name(api):
    """`{"to": 123}` once assigned the case to "123" and `{"to": null}` to "None": anything but
    a string is a 400 naming the field, and the case stays as it was."""
    url, _, analyst_key, operations = api
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    for to in (123, None, ["a"], {"name": "bob"}, True, 1.5):
        status, body = call(f"{url}/cases/t-1/assign", analyst_key, "POST", {"to": to})
        assert (status, body) == (400, {"message": '"to" must be text: the analyst\'s name'}), to
    case = operations.cases.get("t-1")
    assert (case.status.value, case.assignee, len(case.audit)) == ("open", None, 1)
    status, body = call(f"{url}/cases/t-1/assign", analyst_key, "POST", {"to": "bob"})
    assert (status, body["assignee"]) == (200, "bob")


def test_a_label_that_keeps_changing_is_409_to_retry_not_500(api):
    """Another writer changes the transaction's label under every write: an outcome row and a
    case outcome are answered 409 "try again" (they were 500); sent again, each is recorded."""
    url, _, analyst_key, operations = api
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    rival = LabelStore(operations.dynamodb, operations.labels.table)
    row = {"transaction_id": "t-7", "reported_at": "2026-09-20T00:00:00Z"}
    with labels_keep_changing(operations.labels, rival):
        status, body = call(f"{url}/outcomes", analyst_key, "POST", {"outcomes": [row]})
        assert (status, body) == (409, {"message": "label of t-7 keeps changing; try again"})
        status, body = call(f"{url}/cases/t-1/outcome", analyst_key, "POST", {"outcome": "fraud"})
        assert (status, body) == (409, {"message": "label of t-1 keeps changing; try again"})
    assert [e.by for e in operations.labels.get("t-7").history] == ["rival"] * 5
    status, body = call(f"{url}/outcomes", analyst_key, "POST", {"outcomes": [row]})
    assert (status, body["recorded"]) == (202, 1)
    status, body = call(f"{url}/cases/t-1/outcome", analyst_key, "POST", {"outcome": "fraud"})
    assert (status, body["status"], body["outcome"]) == (200, "resolved", "fraud")
    assert [e.source.value for e in operations.labels.get("t-1").history][-1] == "analyst"


def test_no_answer_holds_nan_or_infinity_even_for_a_case_stored_with_one(api, caplog):
    """A case stored before alert intake refused non-finite scores holds NaN: its answer would
    not be JSON (a strict client refuses it whole), so it is a 500 with a JSON body instead; the
    other routes keep answering strict JSON."""
    import dataclasses
    import http.client

    caplog.set_level("INFO", logger="securebank.ingest")
    url, _, analyst_key, operations = api
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    good = case_from_alert(alert_json("t-nan"), "2026-09-01T10:00:02Z")
    operations.cases.create(dataclasses.replace(good, score=float("nan")))

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    answers = {}
    for path in ("/cases/t-1", "/cases/t-nan", "/cases", "/cases?status=assigned"):
        connection.request("GET", path, headers={"x-api-key": analyst_key})
        response = connection.getresponse()
        answers[path] = (response.status, json.loads(response.read(), parse_constant=refuse))
    connection.close()
    assert answers["/cases/t-1"][0] == 200 and answers["/cases/t-1"][1]["score"] == 0.91
    assert answers["/cases/t-nan"] == (500, {"message": "internal error"})
    assert answers["/cases"] == (500, {"message": "internal error"})
    assert answers["/cases?status=assigned"] == (200, {"cases": []})
    assert "GET /cases/{id} 500" in caplog.text and "not JSON" in caplog.text


def test_a_route_asked_with_the_other_method_is_405_with_allow_and_no_route_is_404(api):
    import requests

    url, _, analyst_key, _ = api
    headers = {"x-api-key": analyst_key}
    for method, path, allow in (
        ("POST", "/cases", "GET"),
        ("POST", "/cases/t-1", "GET"),
        ("GET", "/cases/t-1/assign", "POST"),
        ("GET", "/cases/t-1/outcome", "POST"),
        ("GET", "/outcomes", "POST"),
    ):
        response = requests.request(method, f"{url}{path}", headers=headers, timeout=10)
        assert (response.status_code, response.headers.get("Allow")) == (405, allow), path
    for method, path in (
        ("GET", "/cases/t-1/close"),
        ("POST", "/cases/t-1/close"),
        ("GET", "/cases/"),
    ):
        response = requests.request(
            method, f"{url}{path}", data=b"[1]", headers=headers, timeout=10
        )
        assert (response.status_code, response.json()) == (404, {"message": "not found"}), path
