"""Benchmark: offline feature build over 1,000,000 transactions, and the online step per
transaction (features + state update, in-process). Goals: offline at most 90 s; online p50 at
most 50 us.

    python benchmarks/features.py [--transactions N] [--online N]
Last line: {"offline_seconds_1m": S, "offline_peak_mb": M, "online_p50_us": X, "online_p99_us": Y}
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit, peak_rss_mb_of


def _offline(folder: str) -> int:
    from securebank.data.dataset import read_labels, read_transactions
    from securebank.features.offline import build_features

    root = Path(folder)
    return len(build_features(read_transactions(root), read_labels(root)))


def _online(folder: str, warmup: int, measured: int) -> tuple[float, float, int]:
    """Replays `warmup` transactions to build realistic state, then times `measured` steps."""
    from securebank.data.dataset import read_transactions
    from securebank.features.online import (
        CardState,
        FeatureInput,
        MerchantState,
        compute_and_apply,
    )

    table = read_transactions(Path(folder)).slice(0, warmup + measured)
    inputs = [FeatureInput.from_record(r) for r in table.to_pylist()]
    inputs.sort(key=lambda i: (i.time_ms, i.transaction_id))
    cards: dict[str, CardState] = {}
    merchants: dict[str, MerchantState] = {}
    timings = np.empty(len(inputs), dtype=np.int64)
    clock = time.perf_counter_ns
    for row, inp in enumerate(inputs):
        card = cards.get(inp.card_id) or cards.setdefault(inp.card_id, CardState(inp.card_id))
        merchant = merchants.get(inp.merchant_id) or merchants.setdefault(
            inp.merchant_id, MerchantState(inp.merchant_id)
        )
        start = clock()
        compute_and_apply(inp, card, merchant)
        timings[row] = clock() - start
    steady = timings[warmup:] / 1000.0
    return float(np.percentile(steady, 50)), float(np.percentile(steady, 99)), len(steady)


def _simulate(transactions: int, out: str) -> None:
    from securebank.data.simulator.generate import SimulationConfig, generate

    generate(SimulationConfig(transactions=transactions, seed=7), Path(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--online", type=int, default=100_000, help="timed online steps")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        peak_rss_mb_of(_simulate, args.transactions, folder)
        seconds, peak_mb, rows = peak_rss_mb_of(_offline, folder)
        warmup = max(0, min(args.transactions - args.online, 400_000))
        _, _, (p50, p99, steps) = peak_rss_mb_of(_online, folder, warmup, args.online)
    emit(
        {
            "offline_rows": rows,
            "online_steps": steps,
            "offline_seconds": round(seconds, 2),
            "offline_seconds_1m": round(seconds * 1_000_000 / rows, 2),  # scaled if rows != 1M
            "offline_peak_mb": round(peak_mb, 1),
            "online_p50_us": round(p50, 2),
            "online_p99_us": round(p99, 2),
        }
    )


if __name__ == "__main__":
    main()
