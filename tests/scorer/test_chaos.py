"""The chaos benchmark as a test (slow): 20,000 transactions, poison, duplicates, kill -9s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_chaos_loses_nothing_and_counts_nothing_twice():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "chaos.py"), "--transactions", "20000"],
        capture_output=True,
        text=True,
        timeout=3_600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["sent"] == 20_000 and figures["poison_sent"] == 200
    assert figures["decided"] == figures["sent"]
    assert figures["lost"] == 0
    assert figures["duplicate_decisions"] == 0
    assert figures["double_counted_state"] == 0
    assert figures["lake_missing"] == 0
    assert figures["poison_in_dlq"] == figures["poison_sent"]
