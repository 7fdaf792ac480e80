"""`securebank api serve` and `api key ...` as an operator meets them: real processes, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from securebank.ingest.keys import KeyStore
from tests.builders import T0, txn


def _env(tmp_path, moto_endpoint):
    return {
        **os.environ,
        "SECUREBANK_HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": moto_endpoint,
        "SECUREBANK_PREFIX": "sbcli",
        "SECUREBANK_ENVIRONMENT": "apiserve",
        "COLUMNS": "200",
    }


def _cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "securebank.cli.app", "api", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _post(url, body, key):
    request = urllib.request.Request(
        url,
        data=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json", "x-api-key": key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _valid(tid):
    record = txn(tid, T0)
    record["event_time"] = T0.isoformat()
    return record


def test_serve_drains_on_sigterm_and_sees_revocations_by_another_process(tmp_path, moto_endpoint):
    env = _env(tmp_path, moto_endpoint)
    keys = KeyStore(tmp_path / "api" / "keys.json")  # the store `api key create` writes
    key, _ = keys.create("ops")
    leaving, leaving_record = keys.create("leaving")
    server = subprocess.Popen(
        [sys.executable, "-m", "securebank.cli.app", "api", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = server.stdout.readline()
        url = line.split(" on ")[1].split(" ")[0]
        assert _post(url, _valid("c1"), leaving)[0] == 202
        keys.revoke(leaving_record.key_id)
        assert _post(url, _valid("c2"), leaving)[0] == 403

        # A full batch, then SIGTERM while the server works on it: the batch is still answered.
        answer: list = []
        batch = {"transactions": [_valid(f"d{i}") for i in range(500)]}
        sender = threading.Thread(target=lambda: answer.append(_post(url, batch, key)))
        sender.start()
        sender.join(0.3)
        server.send_signal(signal.SIGTERM)
        sender.join(60)
        assert answer and answer[0][0] == 202 and len(answer[0][1]["accepted"]) == 500
        out, err = server.communicate(timeout=60)
        assert server.returncode == 0, err[-2000:]
        assert "ingest API stopped" in out
        assert key not in err and leaving not in err  # the access log names key ids only
    finally:
        if server.poll() is None:
            server.kill()


@pytest.mark.slow
def test_key_commands(tmp_path, moto_endpoint):
    env = _env(tmp_path, moto_endpoint)
    created = _cli(env, "key", "create", "--name", "ops")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sbk_") and key not in (tmp_path / "api" / "keys.json").read_text()
    too_small = _cli(env, "key", "create", "--name", "x", "--burst", "10")
    assert too_small.returncode != 0
    unknown = _cli(env, "key", "revoke", "nosuchid")
    assert unknown.returncode == 1 and unknown.stderr.strip().startswith("error:")
    revoked = _cli(env, "key", "revoke", key.split("_")[1])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert KeyStore(tmp_path / "api" / "keys.json").verify(key) is None
    assert "revoked" in _cli(env, "key", "list").stdout
