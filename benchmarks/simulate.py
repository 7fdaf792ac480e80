"""Benchmark: simulate and write 1,000,000 transactions (goal: at most 60 s on 2 cores).

    python benchmarks/simulate.py [--transactions N]
Last line: {"transactions": N, "seconds": S, "peak_mb": M}
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit, peak_rss_mb_of


def _generate(transactions: int, out: str) -> int:
    from securebank.data.simulator.generate import SimulationConfig, generate

    return generate(SimulationConfig(transactions=transactions, seed=7), Path(out)).transactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        seconds, peak_mb, written = peak_rss_mb_of(_generate, args.transactions, out)
    emit({"transactions": written, "seconds": round(seconds, 2), "peak_mb": round(peak_mb, 1)})


if __name__ == "__main__":
    main()
