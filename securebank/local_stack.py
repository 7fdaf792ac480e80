"""The local AWS: moto's server mode on 127.0.0.1, and the platform's resources created in it.

`start` runs `moto.server` as a detached process and records its endpoint in `HOME/stack.json`, so
later commands find it; `provision` creates every resource the platform uses, with the names of
`ResourceNames` (the same rule terraform/ uses). State lives in the server's memory: `stop` ends
it and everything in it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from securebank.resources import ResourceNames

STATE_FILE = "stack.json"
LOG_FILE = "stack.log"


class StackError(RuntimeError):
    """The local stack could not be started or reached."""


@dataclass(frozen=True)
class StackInfo:
    pid: int
    port: int

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_healthy(endpoint_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def read_info(home: Path) -> StackInfo | None:
    """The recorded stack, if its server still answers."""
    path = home / STATE_FILE
    if not path.is_file():
        return None
    info = StackInfo(**json.loads(path.read_text()))
    return info if is_healthy(info.endpoint_url) else None


def start(home: Path, port: int | None = None, wait_seconds: float = 30.0) -> StackInfo:
    """Start the local AWS unless it already runs; return where it listens."""
    running = read_info(home)
    if running is not None:
        return running
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    log = (home / LOG_FILE).open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    info = StackInfo(pid=process.pid, port=port)
    deadline = time.monotonic() + wait_seconds
    while not is_healthy(info.endpoint_url, timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise StackError(f"the local AWS did not start on port {port}; see {home / LOG_FILE}")
        time.sleep(0.1)
    (home / STATE_FILE).write_text(json.dumps(asdict(info)))
    return info


def stop(home: Path) -> bool:
    """Stop the recorded server; False when none was running."""
    path = home / STATE_FILE
    if not path.is_file():
        return False
    info = StackInfo(**json.loads(path.read_text()))
    path.unlink()
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    return True


def provision(s3: Any, sagemaker: Any, names: ResourceNames) -> list[str]:
    """Create every resource the platform uses, if missing; return what was created."""
    created: list[str] = []
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in names.buckets():
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
            created.append(f"s3://{bucket}")
    groups = sagemaker.list_model_package_groups(NameContains=names.model_package_group)
    if not any(
        g["ModelPackageGroupName"] == names.model_package_group
        for g in groups["ModelPackageGroupSummaryList"]
    ):
        sagemaker.create_model_package_group(
            ModelPackageGroupName=names.model_package_group,
            ModelPackageGroupDescription="SecureBank fraud model versions",
        )
        created.append(f"model package group {names.model_package_group}")
    return created
