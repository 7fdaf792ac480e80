"""Small measuring tools shared by the benchmark scripts."""

from __future__ import annotations

import json
import multiprocessing
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def peak_rss_mb_of(target: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """Run `target(*args)` in a fresh process; return (seconds, peak RSS in MB, its result)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_timed, (target, *args))


def _timed(target: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    start = time.perf_counter()
    result = target(*args)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds, peak_mb, result


def emit(figures: dict[str, Any]) -> None:
    """Print the figures readably, then as one JSON object on the last line."""
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
    print(json.dumps(figures))


def securebank(env: dict[str, str], *args: str) -> str:
    """Run a `securebank` command as a user does (a subprocess with `env`); its stdout, or
    RuntimeError with the end of its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "securebank.cli.app", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"securebank {' '.join(args)}: {result.stderr[-2000:]}")
    return result.stdout


#: Where `metered_scorer` workers save what they counted (`save_usage`), one file per process.
USAGE_DIR_VARIABLE = "SECUREBANK_BENCH_USAGE_DIR"
_meter: Any = None


def metered_scorer(settings: Any) -> Any:
    """The scorer's Lambda handler as `securebank stream run` builds it in a shard process,
    with a `CallMeter` on the clients its parts use (a `ShardProcesses` handler factory)."""
    global _meter
    from securebank.aws import connect
    from securebank.cost import CallMeter
    from securebank.inference.local_endpoint import registered_url
    from securebank.scorer import handler
    from securebank.scorer.assembly import build_parts

    aws = connect(settings, provision=False).with_runtime(registered_url(settings))
    # the decisions table's one GSI projects every attribute: each write is written twice
    _meter = CallMeter({settings.names.decisions_table: 1})
    for service in ("dynamodb", "s3", "sns", "sqs"):
        _meter.attach(aws.client(service))  # the cached clients the scorer's parts use
    handler.configure(build_parts(settings, aws))
    return handler.lambda_handler


def save_usage() -> None:
    """Write this worker's counts to USAGE_DIR_VARIABLE (a `ShardProcesses` finish step)."""
    import os
    from pathlib import Path

    if _meter is not None:
        folder = Path(os.environ[USAGE_DIR_VARIABLE])
        (folder / f"{os.getpid()}.json").write_text(json.dumps(_meter.snapshot()))


def merged_usage(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """`CallMeter.snapshot()`s of several processes, added up."""
    from collections import Counter

    total: dict[str, Any] = {
        "calls": Counter(),
        "read_units": 0.0,
        "write_units": 0.0,
        "write_units_by_table": Counter(),
        "bytes": Counter(),
    }
    for snapshot in snapshots:
        for key in ("calls", "write_units_by_table", "bytes"):
            total[key].update(snapshot[key])
        total["read_units"] += snapshot["read_units"]
        total["write_units"] += snapshot["write_units"]
    return total
