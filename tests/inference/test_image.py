"""The image's command (`securebank-container`, `python -m securebank.image`), run as SageMaker
runs a serving container: it answers the container contract, drains on SIGTERM, and refuses a
model of another feature set at start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from tests.inference.conftest import row
from tests.inference.test_server import csv, status_of


def _serve(model_dir, version="7"):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "securebank.image",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--model-dir",
            str(model_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SECUREBANK_MODEL_VERSION": version},
    )


def test_serve_answers_the_container_contract_and_drains_on_sigterm(model_dirs):
    server = _serve(model_dirs["1"])
    try:
        line = server.stdout.readline()  # "serving model version 7 on http://127.0.0.1:PORT"
        assert line.startswith("serving model version 7 on http://127.0.0.1:"), (
            line + server.stderr.read()
        )
        url = line.split()[-1]
        assert status_of(url + "/ping") == (200, {"status": "healthy"})
        request = urllib.request.Request(
            url + "/invocations",
            data=csv(row(3.0, 3.0), row(-2.0)).encode(),
            headers={"Content-Type": "text/csv"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            high, low = json.loads(response.read())["predictions"]
        assert high["score"] > 0.5 > low["score"]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_serve_refuses_a_model_of_another_feature_set(model_dirs):
    server = _serve(model_dirs["other"])
    try:
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode != 0
    assert "IncompatibleModel" in err and "fs-000000000000" in err
