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
