"""The fraud-operations part of `securebank demo`: alerts become cases, analysts resolve a few,
a chargeback file arrives (overriding one analyst's "legit"), the labels stream updates the
merchant state, and the performance report and the console follow. Each step is the real
command, run as its own process, as in the rest of the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from securebank.cli.console import console


def chargeback_file(data: Path, since: str, count: int, out: Path) -> set[str]:
    """The dataset's fraud reports for the streamed transactions, as a bank's chargeback CSV."""
    from securebank.data.dataset import read_labels, read_transactions
    from securebank.labels.outcomes import write_chargeback_file
    from securebank.local.producer import select

    streamed = select(read_transactions(data), datetime.fromisoformat(since), count)
    return write_chargeback_file(read_labels(data), streamed["transaction_id"], out)


def run_operations_demo(
    command: Callable[..., str],
    env: dict[str, str],
    data: Path,
    since: str,
    count: int,
    home: Path,
    version: str,
) -> None:
    command("cases", "ingest", "--idle-exit", "2", env=env)
    cases = json.loads(command("cases", "list", "--limit", "1000", "--json", env=env, capture=True))
    command("cases", "list", "--limit", "8", env=env)
    if not cases:
        console.print("no alerts in this run: nothing for the analysts")
        return
    frauds = chargeback_file(data, since, count, home / "chargebacks.csv")
    ids = [c["case_id"] for c in cases]
    mistaken = next((i for i in ids if i in frauds), None)
    caught = [i for i in ids if i in frauds and i != mistaken][:2]
    cleared = [i for i in ids if i not in frauds][:2]
    analyst = {**env, "SECUREBANK_ANALYST": "alice"}
    if caught:
        command("cases", "assign", caught[0], "--to", "alice", env=analyst)
    for case_id in caught:
        command(
            "cases",
            "resolve",
            case_id,
            "--outcome",
            "fraud",
            "--note",
            "cardholder denies",
            env=analyst,
        )
    for case_id in cleared:
        command(
            "cases",
            "resolve",
            case_id,
            "--outcome",
            "legit",
            "--note",
            "known customer",
            env=analyst,
        )
    if mistaken is not None:
        command(
            "cases", "resolve", mistaken, "--outcome", "legit", "--note", "looked fine", env=analyst
        )
        command("cases", "show", mistaken, env=env)
    command("labels", "follow", "--idle-exit", "1", env=env)
    merchant = next(
        (c["merchant_id"] for c in cases if c["case_id"] == mistaken), cases[0]["merchant_id"]
    )
    command("labels", "merchant", merchant, env=env)
    command("outcomes", "import", str(home / "chargebacks.csv"), env=env)
    if mistaken is not None:
        command("labels", "show", mistaken, env=env)
    started = time.monotonic()
    command("labels", "follow", "--idle-exit", "1", env=env)
    console.print(
        f"(labels stream drained in {time.monotonic() - started:.1f} s, process start included)"
    )
    command("labels", "merchant", merchant, env=env)
    command("monitor", "performance", env=env)
    command("monitor", "performance", "--by", "amount_band", env=env)
    command("monitor", "retrain", env=env)
    # The deployed version against itself: re-scoring the lake's feature vectors must reproduce
    # the live figures (a check that the lake holds what was scored).
    command("monitor", "compare", "--challenger", version, env=env)
    _console(env, home)


def _console(env: dict[str, str], home: Path) -> None:
    from securebank.local.background import free_port

    port = free_port()
    console.print(f"\n[bold]$ securebank console --port {port} &[/bold]")
    log = (home / "console.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "securebank.cli.app",
            "console",
            "--port",
            str(port),
            "--as",
            "alice",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    page = response.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        else:
            console.print("the console did not start; see console.log")
            return
        console.print(
            f"analyst console: {url} ({page.count('data-case=')} cases in the queue); it stops "
            "with the demo unless SECUREBANK_DEMO_HOLD=1 (then Enter stops it)"
        )
        if os.environ.get("SECUREBANK_DEMO_HOLD") and sys.stdin.isatty():
            input("press Enter to stop the console and the local AWS ")
    finally:
        server.terminate()
        server.wait(timeout=10)
