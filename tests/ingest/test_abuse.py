"""The ingest API under abuse: one test per row of issue #13's API table, over real HTTP with
moto's Kinesis and DynamoDB behind the server."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time

import pytest

from securebank.ingest.idempotency import DynamoIdempotency, Outcome, body_hash
from securebank.ingest.keys import KeyStore
from securebank.ingest.limits import SeenWindow
from securebank.ingest.server import MAX_JSON_DEPTH, IngestServer, json_depth_exceeds
from securebank.pan import contains_pan
from tests.builders import T0, txn
from tests.ingest.test_ingest import stream_records


def _valid(tid, **fields):
    record = txn(tid, T0, **fields)
    record["event_time"] = T0.isoformat()
    return record


def _start(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def keys(tmp_path):
    return KeyStore(tmp_path / "keys.json")


@pytest.fixture
def serve(aws, keys):
    """Start ingest servers on the test's local AWS; every one is drained at the end."""
    started = []

    def make(idempotency=None, **options):
        if idempotency is None:
            idempotency = DynamoIdempotency(aws.client("dynamodb"), aws.names.idempotency_table)
        server = IngestServer(
            ("127.0.0.1", 0),
            options.pop("kinesis", None) or aws.client("kinesis"),
            aws.names.stream,
            keys,
            idempotency,
            **options,
        )
        started.append(server)
        return _start(server)

    yield make
    for server in started:
        if not server.draining:
            server.drain(timeout=5)


def request(server, body, key, *, content_type="application/json", method="POST"):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    data = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
    headers = {"Content-Type": content_type, "x-api-key": key}
    conn.request(method, "/transactions", body=data, headers=headers)
    response = conn.getresponse()
    document = json.loads(response.read())
    conn.close()
    return response.status, document, response


def test_a_450_record_batch_with_a_default_key_is_admitted(serve, keys, aws):
    server = serve()
    key, record = keys.create("default bank")
    assert record.burst >= 500
    status, body, _ = request(server, {"transactions": [_valid(f"b{i}") for i in range(450)]}, key)
    assert status == 202 and len(body["accepted"]) == 450
    assert len(stream_records(aws)) == 450
    # A key stored before the change with a burst of 400 still takes a full batch.
    legacy, _ = keys.create("legacy", burst=400)
    batch = {"transactions": [_valid(f"l{i}") for i in range(500)]}
    status, body, _ = request(serve(idempotency=SeenWindow()), batch, legacy)
    assert status == 202 and len(body["accepted"]) == 500


def test_300_concurrent_clients_are_all_answered_by_a_bounded_pool(serve, keys):
    server = serve(idempotency=SeenWindow(), workers=16, queue_size=512)
    key, _ = keys.create("crowd", rate_per_second=10_000, burst=10_000)
    statuses: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    go = threading.Event()

    def client(n: int) -> None:
        go.wait()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
            for k in range(2):
                body = json.dumps(_valid(f"c{n}-{k}"), default=str).encode()
                headers = {"Content-Type": "application/json", "x-api-key": key}
                conn.request("POST", "/transactions", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                with lock:
                    statuses.append(response.status)
            conn.close()
        except OSError as error:
            with lock:
                errors.append(type(error).__name__)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(300)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(statuses) == 600
    assert set(statuses) == {202}
    assert 1 < server.max_busy_workers <= 16
    assert server.request_queue_size >= 128


def test_deep_nesting_is_a_fast_400_and_the_server_keeps_serving(serve, keys):
    server = serve(idempotency=SeenWindow())
    key, _ = keys.create("nest")
    deep = b'{"transactions": [' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    status, body, _ = request(server, deep, key)
    assert (status, body) == (400, {"message": f"JSON nested deeper than {MAX_JSON_DEPTH} levels"})
    inside = _valid("n1", device_id={"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}})
    assert request(server, {"transactions": [inside]}, key)[0] == 400
    assert request(server, _valid("n2"), key)[0] == 202


def test_json_depth_is_measured_without_parsing():
    assert not json_depth_exceeds(b'{"a": [1, {"b": "[[[[[[[[[[[["}]}', 3)
    assert json_depth_exceeds(b'{"a": [1, {"b": [[]]}]}', 4)
    assert not json_depth_exceeds(b'{"a": [1, {"b": [[]]}]}', 5)
    assert not json_depth_exceeds(b"[}", 8)  # malformed: the parser reports it


def test_a_49_mb_digit_string_is_refused_quickly_and_never_echoed(serve, keys):
    server = serve(idempotency=SeenWindow())
    key, _ = keys.create("big")
    digits = "4111111111111111" * (4_900_000 // 16)
    started = time.perf_counter()
    status, body, _ = request(server, _valid("d1", card_id=digits), key)
    seconds = time.perf_counter() - started
    print(f"\n4.9 MB digit string answered in {seconds:.2f} s")
    assert status == 400
    assert body["rejected"][0]["reasons"] == {"card_id": "longer than 1024 characters"}
    assert not contains_pan(json.dumps(body))
    as_number = b'{"transactions": [{"amount": ' + digits.encode() + b"}]}"
    assert request(server, as_number, key)[:2] == (400, {"message": "body is not JSON"})


def _open_slow(server, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.server_address[1]))
    sock.sendall(head)
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    finally:
        sock.close()


def _still_open(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except TimeoutError:
        return True
    except OSError:
        return False


def test_slow_clients_hold_no_worker_and_are_cut_off_at_the_read_deadline(serve, keys):
    server = serve(idempotency=SeenWindow(), workers=2, read_timeout=3.0)
    key, _ = keys.create("slow")
    slow_headers = [
        _open_slow(server, b"POST /transactions HTTP/1.1\r\nHost: x\r\n") for _ in range(20)
    ]
    head = (
        "POST /transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"x-api-key: {key}\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    slow_bodies = [_open_slow(server, head + b'{"transactions": [') for _ in range(20)]
    # One byte every 0.3 s on some of them: a trickle does not extend the deadline.
    trickle_stop = threading.Event()

    def trickle() -> None:
        while not trickle_stop.wait(0.3):
            for sock in slow_headers[:10]:
                with contextlib.suppress(OSError):
                    sock.send(b"X")

    threading.Thread(target=trickle, daemon=True).start()
    try:
        # 40 slow clients, 2 workers: the request is answered while every slow one still waits.
        assert request(server, _valid("s1"), key)[0] == 202
        assert request(server, _valid("s2"), key)[0] == 202
        assert all(_still_open(s) for s in slow_bodies[10:] + slow_headers[10:])
        assert server.max_busy_workers <= 2
        assert all(_closed_by_server(s, within=8.0) for s in slow_headers + slow_bodies)
    finally:
        trickle_stop.set()
    assert server.slow_clients_closed == 40
    assert request(server, _valid("s3"), key)[0] == 202


def test_idempotency_survives_a_restart_and_refuses_another_body(serve, keys, aws):
    key, _ = keys.create("bank")
    first = serve()
    assert request(first, _valid("i1"), key)[1]["accepted"] == ["i1"]
    assert first.drain(timeout=5)
    second = serve()  # a new process on a new port, the same table
    status, body, _ = request(second, _valid("i1"), key)
    assert status == 202 and body["duplicates"] == ["i1"] and body["accepted"] == []
    status, body, _ = request(second, _valid("i1", amount="99.00"), key)
    assert status == 409 and body["conflicts"] == ["i1"]
    # Twice in one batch: the same body is a duplicate, another body a conflict.
    batch = [_valid("i2"), _valid("i2"), _valid("i2", amount="1.00")]
    status, body, _ = request(second, {"transactions": batch}, key)
    assert (body["accepted"], body["duplicates"], body["conflicts"]) == (["i2"], ["i2"], ["i2"])
    assert sorted(json.loads(r["Data"])["transaction_id"] for r in stream_records(aws)) == [
        "i1",
        "i2",
    ]


def test_two_servers_racing_on_one_id_enqueue_it_once(serve, keys, aws):
    key, _ = keys.create("race")
    servers = [serve(), serve()]
    results: list[dict] = []

    def send(server) -> None:
        results.append(
            request(server, {"transactions": [_valid(f"r{i}") for i in range(40)]}, key)[1]
        )

    threads = [threading.Thread(target=send, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = results[0]["accepted"] + results[1]["accepted"]
    assert sorted(accepted) == sorted(f"r{i}" for i in range(40))
    assert len(stream_records(aws)) == 40


def test_a_claim_left_pending_by_a_dead_process_is_taken_over_not_lost(aws):
    now = [1_000_000.0]
    store = DynamoIdempotency(
        aws.client("dynamodb"), aws.names.idempotency_table, clock=lambda: now[0]
    )
    claim = ("p1", body_hash('{"x": 1}'))
    assert store.claim([claim]) == [Outcome.NEW]  # ... and the process dies before the put
    assert store.claim([claim]) == [Outcome.DUPLICATE]  # fresh: maybe still being put
    now[0] += 31
    assert store.claim([("p1", body_hash('{"x": 2}'))]) == [Outcome.CONFLICT]
    assert store.claim([claim]) == [Outcome.NEW]  # stale: this retry enqueues it
    store.confirm([claim])
    store.flush()  # written behind the answer; flushed at once here
    now[0] += 3600
    assert store.claim([claim]) == [Outcome.DUPLICATE]  # accepted claims never go stale
    now[0] += 86_400
    assert store.claim([claim]) == [Outcome.NEW]  # the window has passed
    store.release([claim])
    assert store.claim([claim]) == [Outcome.NEW]  # a failed put releases the claim


def test_wrong_content_type_chunked_and_oversized_bodies_are_refused_before_reading(serve, keys):
    server = serve(idempotency=SeenWindow())
    key, _ = keys.create("types")
    body = json.dumps(_valid("t1")).encode()
    assert request(server, body, key, content_type="text/plain")[0] == 415
    assert request(server, body, key, content_type="application/json; charset=utf-8")[0] == 202
    for head, status in (
        ("Content-Length: 6000000\r\n", 413),  # no body sent: the answer comes at once
        ("Transfer-Encoding: chunked\r\n", 411),
    ):
        sock = socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5)
        sock.sendall(
            (
                f"POST /transactions HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n"
                f"Content-Type: application/json\r\n{head}\r\n"
            ).encode()
        )
        assert sock.recv(100).startswith(f"HTTP/1.1 {status}".encode())
        sock.close()


def _until_closed(server, data: bytes) -> bytes:
    """Send `data` on one connection; everything the server sends until it closes it."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_a_malformed_content_length_is_400_and_the_unread_body_is_never_a_request(serve, keys, aws):
    """A Content-Length that is not plain decimal digits is 400 (as on the case routes), not
    413, and the connection is closed: the reader never waited for that body, so its bytes (here
    a whole valid request) must not be answered as the connection's next request. A well-formed
    length over the limit stays 413."""
    server = serve()
    key, _ = keys.create("framing")
    hidden = json.dumps(_valid("hidden-1")).encode()
    inner = (
        f"POST /transactions HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(hidden)}\r\n\r\n"
    ).encode() + hidden
    head = (
        f"POST /transactions HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    n = len(inner)
    for length in (f"+{n}", f"{n // 10}_{n % 10}", "abc", f"-{n}", "\xb2", f"{n} {n}"):
        received = _until_closed(
            server, head + f"Content-Length: {length}\r\n\r\n".encode("latin-1") + inner
        )
        assert received.count(b"HTTP/1.1 ") == 1, (length, received)
        assert received.startswith(b"HTTP/1.1 400 "), (length, received)
        assert b"\r\nConnection: close\r\n" in received, length
        answer = json.loads(received.split(b"\r\n\r\n", 1)[1])
        assert answer == {"message": "Content-Length must be a decimal number of bytes"}
    assert stream_records(aws) == []
    too_long = head + f"Content-Length: {6_000_000}\r\nConnection: close\r\n\r\n".encode()
    received = _until_closed(server, too_long)
    assert received.startswith(b"HTTP/1.1 413 "), received
    assert json.loads(received.split(b"\r\n\r\n", 1)[1]) == {
        "message": "body must be at most 5242880 bytes"
    }


def test_a_pan_as_a_json_key_or_duplicate_field_is_refused_without_echo(serve, keys):
    server = serve(idempotency=SeenWindow())
    key, _ = keys.create("keys")
    pan = "4111 1111 1111 1111"
    raw = json.dumps(_valid("k1"))[:-1] + f', "{pan}": 1}}'
    duplicate = json.dumps(_valid("k2"))[:-1] + ', "amount": "11.00"}'
    body = ('{"transactions": [' + raw + ", " + duplicate + "]}").encode()
    status, answer, _ = request(server, body, key)
    assert status == 400
    first, second = answer["rejected"]
    assert first["reasons"] == {
        "(a field name)": "looks like a raw card number (PAN); send a token"
    }
    assert second["reasons"] == {"record": "a field name appears twice"}
    assert not contains_pan(json.dumps(answer))


def test_a_revoked_key_is_refused_from_its_next_request(serve, keys):
    server = serve(idempotency=SeenWindow())
    key, record = keys.create("leaving")
    assert request(server, _valid("v1"), key)[0] == 202
    assert keys.revoke(record.key_id).revoked_at
    assert request(server, _valid("v2"), key)[0] == 403
    assert keys.revoke("no-such-key") is None


class _SlowKinesis:
    """Kinesis that holds put_records until released: a request stays in flight."""

    def __init__(self, kinesis):
        self.kinesis, self.entered, self.release = kinesis, threading.Event(), threading.Event()

    def put_records(self, **kwargs):
        self.entered.set()
        self.release.wait(10)
        return self.kinesis.put_records(**kwargs)


def test_drain_answers_requests_in_flight_then_refuses_new_connections(serve, keys, aws):
    slow = _SlowKinesis(aws.client("kinesis"))
    server = serve(idempotency=SeenWindow(), kinesis=slow)
    key, _ = keys.create("drain")
    idle = socket.create_connection(("127.0.0.1", server.server_address[1]))  # keep-alive, idle
    answer: list = []
    in_flight = threading.Thread(target=lambda: answer.append(request(server, _valid("f1"), key)))
    in_flight.start()
    assert slow.entered.wait(10)
    drained: list[bool] = []
    drainer = threading.Thread(target=lambda: drained.append(server.drain(timeout=10)))
    drainer.start()
    time.sleep(0.3)
    assert in_flight.is_alive() and drainer.is_alive()  # drain waits for the request
    slow.release.set()
    in_flight.join(10)
    drainer.join(10)
    status, body, response = answer[0]
    assert status == 202 and body["accepted"] == ["f1"]
    assert response.getheader("Connection") == "close"
    assert drained == [True]
    assert _closed_by_server(idle, within=2.0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=1)


def test_the_model_server_drains_too():
    from securebank.inference.endpoint import Endpoint
    from securebank.inference.server import ModelServer

    server = _start(ModelServer(("127.0.0.1", 0), Endpoint()))
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.request("GET", "/ping")
    assert conn.getresponse().read()
    for _ in range(100):  # the answer can arrive before the handler has marked itself done
        if server.requests_in_flight == 0:
            break
        time.sleep(0.05)
    assert server.requests_in_flight == 0  # the connection is kept alive, idle
    assert server.drain(timeout=5)
    with pytest.raises((OSError, http.client.HTTPException)):
        conn.request("GET", "/ping")
        conn.getresponse()


def test_a_malformed_request_line_is_not_echoed(serve, keys):
    server = serve(idempotency=SeenWindow())
    sock = socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5)
    sock.sendall(b"POST /4111111111111111 extra HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 400") and not contains_pan(answer.decode())


class _BrokenKinesis:
    def put_records(self, **kwargs):
        raise ConnectionError("stream unreachable")


def test_a_failed_put_releases_the_claim_so_the_retry_is_accepted(serve, keys, aws):
    key, _ = keys.create("retry")
    broken = serve(kinesis=_BrokenKinesis())
    status, body, response = request(broken, _valid("e1"), key)
    assert status == 503 and body["failed"] == ["e1"] and response.getheader("Retry-After")
    healthy = serve()  # the same idempotency table
    status, body, _ = request(healthy, _valid("e1"), key)
    assert status == 202 and body["accepted"] == ["e1"]
    assert len(stream_records(aws)) == 1


def test_a_repeat_in_the_body_is_no_duplicate_when_the_first_could_not_be_put(serve, keys, aws):
    """Found by benchmarks/chaos.py: a transaction sent twice in one body whose put failed was
    answered both "failed" and "duplicate"; the client counted it acknowledged and it was lost."""
    key, _ = keys.create("repeat")
    broken = serve(kinesis=_BrokenKinesis())
    body = {"transactions": [_valid("r1"), _valid("r1")]}
    status, answer, _ = request(broken, body, key)
    assert status == 503 and answer["failed"] == ["r1"]
    assert answer["duplicates"] == [] and answer["accepted"] == []
    healthy = serve()
    status, answer, _ = request(healthy, body, key)
    assert status == 202 and answer["accepted"] == ["r1"] and answer["duplicates"] == ["r1"]
    assert len(stream_records(aws)) == 1


def test_expect_100_continue_is_answered_before_the_body_is_sent(serve, keys):
    server = serve(idempotency=SeenWindow())
    key, _ = keys.create("curl")
    body = json.dumps(_valid("x1")).encode()
    sock = socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5)
    sock.sendall(
        (
            f"POST /transactions HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n"
            "Content-Type: application/json\r\nExpect: 100-continue\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
    )
    assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(body)
    assert sock.recv(100).startswith(b"HTTP/1.1 202")
    sock.close()
