"""Local servers run as detached processes, recorded in a small JSON file so later commands find
them (the local AWS, the model server)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path


class ServerError(RuntimeError):
    """A local server could not be started."""


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, timeout: float = 1.0) -> bool:
    """True when an HTTP server answers at `url` (any status)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(state_file: Path, health_path: str, busy_wait_s: float = 15.0) -> ServerInfo | None:
    """The recorded server, if it still answers.

    A live process that is slow to answer (busy) is waited for rather than taken for dead, so a
    second server is never started beside a working one.
    """
    if not state_file.is_file():
        return None
    info = ServerInfo(**json.loads(state_file.read_text()))
    if not alive(info.pid):
        return None
    if answers(info.url + health_path):
        return info
    return info if answers(info.url + health_path, timeout=busy_wait_s) else None


def start(
    command: list[str],
    port: int,
    state_file: Path,
    log_file: Path,
    health_path: str,
    wait_seconds: float = 30.0,
    env: dict[str, str] | None = None,
) -> ServerInfo:
    """Start `command` detached, wait until it answers, record it in `state_file`.

    `env` adds variables to this process's environment for the server.
    """
    info = launch(command, port, log_file, health_path, wait_seconds, env)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(asdict(info)))
    return info


def launch(
    command: list[str],
    port: int,
    log_file: Path,
    health_path: str,
    wait_seconds: float = 30.0,
    env: dict[str, str] | None = None,
) -> ServerInfo:
    """Start `command` detached (its own session) and wait until it answers on `port`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
    info = ServerInfo(pid=process.pid, port=port)
    deadline = time.monotonic() + wait_seconds
    while not answers(info.url + health_path, timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise ServerError(f"the server did not start on port {port}; see {log_file}")
        time.sleep(0.1)
    return info


def _reap(pid: int) -> None:
    """Collect `pid` if it is this process's exited child (else it lingers as a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def terminate(pid: int, grace_s: float = 10.0) -> bool:
    """SIGTERM `pid` and wait for it to exit (SIGKILL after `grace_s`); False if it was gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def stop(state_file: Path) -> bool:
    """Stop the recorded server and wait for it to exit; False when none was recorded."""
    if not state_file.is_file():
        return False
    info = ServerInfo(**json.loads(state_file.read_text()))
    state_file.unlink()
    return terminate(info.pid, grace_s=5.0)
