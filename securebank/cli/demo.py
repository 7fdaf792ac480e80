"""`securebank demo`: the whole loop on the local AWS, as a user would type it.

data → pipeline → approve → deploy → endpoint → bootstrap the feature store → stream (send and
score at once, with the live view) → summary → analytics, drift, audit report and the HTML run
report → fraud operations (cases, outcomes, labels stream, performance, console); the servers it
started are stopped at the end.
Each step is the real command, run as its own process and printed first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.cli.stream import runner_file


def _command(*args: str, env: dict[str, str], capture: bool = False) -> str:
    console.print(f"\n[bold]$ securebank {' '.join(args)}[/bold]")
    result = subprocess.run(
        [sys.executable, "-m", "securebank.cli.app", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        check=False,
    )
    if result.returncode != 0:
        raise UserError(f"`securebank {' '.join(args)}` failed (exit {result.returncode})")
    return result.stdout or ""


def _send_when_scoring(
    scoring: Path, command: list[str], env: dict[str, str], timeout_s: float = 300.0
) -> subprocess.Popen:
    """Start `command` (the sender) once `stream run` has written `scoring` (or after
    `timeout_s`, when the runner will report its own error)."""
    deadline = time.monotonic() + timeout_s
    while not scoring.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_servers(env: dict[str, str]) -> None:
    for args in (("endpoint", "stop"), ("stack", "down")):
        subprocess.run(
            [sys.executable, "-m", "securebank.cli.app", *args],
            env=env,
            capture_output=True,
            check=False,
        )


def demo_command(
    transactions: Annotated[int, typer.Option(min=20_000, help="Simulated history.")] = 200_000,
    stream: Annotated[int, typer.Option(min=100, help="Transactions to stream.")] = 5_000,
    rate: Annotated[float, typer.Option(min=1, help="Stream rate (per second).")] = 167.0,
    home: Annotated[Path, typer.Option(help="Working folder (recreated).")] = Path(
        ".securebank/demo"
    ),
) -> None:
    """Run the whole platform locally: data, training, deployment, live scoring, summary."""
    import shutil

    env = {**os.environ, "SECUREBANK_HOME": str(home), "COLUMNS": os.environ.get("COLUMNS", "110")}
    _stop_servers(env)
    shutil.rmtree(home, ignore_errors=True)
    data = str(home / "data")
    report = home / "reports" / "run.html"
    try:
        _command("stack", "up", env=env)
        _command("data", "generate", "--transactions", str(transactions), "--out", data, env=env)
        _command("pipeline", "run", "--data", data, env=env)
        versions = json.loads(_command("model", "list", "--json", env=env, capture=True))
        latest = versions[-1]
        version, stream_from = str(latest["version"]), latest["metadata"]["test_start"]
        _command("model", "approve", version, "--reason", "demo", env=env)
        _command("model", "deploy", version, env=env)
        _command("endpoint", "start", env=env)
        _command("stream", "bootstrap", "--data", data, "--until", stream_from, env=env)
        # The sender starts once the scorer polls (its shard processes take a few seconds to
        # start): put → decision then measures scoring, not the runner's start-up.
        scoring = runner_file(home)
        scoring.unlink(missing_ok=True)  # left by a runner that was killed
        send = [
            sys.executable,
            "-m",
            "securebank.cli.app",
            "stream",
            "send",
            "--data",
            data,
            "--from",
            stream_from,
            "--count",
            str(stream),
            "--rate",
            str(rate),
            "--poison",
            "5",
        ]
        with ThreadPoolExecutor(1) as pool:
            sender = pool.submit(_send_when_scoring, scoring, send, env)
            console.print(f"\n[bold]$ securebank stream send --from {stream_from} ... &[/bold]")
            try:
                _command("stream", "run", "--idle-exit", "5", "--window", "0", env=env)
            finally:
                sender.result().wait(timeout=600)
        _command("stream", "summary", env=env)
        _command("endpoint", "status", env=env)
        _command("analytics", "query", "--named", "by_model_version", env=env)
        _command("analytics", "query", "--named", "top_risky_merchants", env=env)
        _command("monitor", "drift", env=env)
        today = datetime.now(UTC).date().isoformat()
        _command(
            "report",
            "audit",
            "--from",
            today,
            "--to",
            today,
            "--out",
            str(home / "reports"),
            env=env,
        )
        _command("report", "run", "--out", str(report), env=env)
        from securebank.cli.operations_demo import run_operations_demo

        run_operations_demo(_command, env, Path(data), stream_from, stream, home, version)
    finally:
        _stop_servers(env)
    console.print(f"\ndemo finished; the report is {report.resolve()}")
