"""Benchmark: import a bank-shaped CSV (rows/s, peak memory); memory must stay flat as it grows.

    python benchmarks/importer.py [--rows N] [--also M]
Writes, in a temporary folder, a bank export of N rows (default 10,000,000) over 180 days:
transaction id, naive local timestamp, customer id, terminal id, amount as text (a third of them
binary float text such as 85.64999999999999), and a separate labels file of the frauds (0.8 %)
without reported_at (a 7-day label delay). Each import runs in a fresh process; `--also M` imports
a second, smaller file too, so that the two peaks show whether memory follows the file size.
`--workers W` validates in W processes; worker_peak_mb is the largest worker's peak.
Last line: {"rows": N, "seconds": S, "rows_per_s": R, "peak_mb": M, "csv_mb": C, ...}
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit

_CHUNK = 1_000_000
_DAYS = 180


def write_bank_files(rows: int, folder: Path, seed: int = 11) -> tuple[Path, Path]:
    """A bank-shaped transactions CSV and labels CSV, written a million rows at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    transactions, labels = folder / "transactions.csv", folder / "labels.csv"
    start = np.datetime64("2026-01-01T00:00:00", "s")
    span = _DAYS * 86_400
    label_schema = pa.schema([("TRANSACTION_ID", pa.int64()), ("TX_FRAUD", pa.int8())])
    with (
        pacsv.CSVWriter(transactions, _tx_schema()) as tx_out,
        pacsv.CSVWriter(labels, label_schema) as label_out,
    ):
        for first in range(0, rows, _CHUNK):
            n = min(_CHUNK, rows - first)
            ids = np.arange(first, first + n, dtype=np.int64)
            # times increase through the file, as in a bank's export
            offsets = np.sort(rng.integers(first * span // rows, (first + n) * span // rows, n))
            times = pa.array(start + offsets.astype("timedelta64[s]"), pa.timestamp("s"))
            cents = rng.lognormal(np.log(4_000), 1.0, n).astype(np.int64) + 1
            whole = pc.cast(pa.array(cents // 100), pa.string())
            fraction = cents % 100
            exact = pc.utf8_lpad(pc.cast(pa.array(fraction), pa.string()), 2, "0")
            below = pc.utf8_lpad(
                pc.cast(pa.array(np.maximum(fraction - 1, 0)), pa.string()), 2, "0"
            )
            noisy = pc.binary_join_element_wise(below, "999999999999", "")
            use_noise = pa.array((ids % 3 == 1) & (fraction > 0))
            amount = pc.binary_join_element_wise(whole, pc.if_else(use_noise, noisy, exact), ".")
            batch = pa.RecordBatch.from_arrays(
                [
                    pa.array(ids),
                    pc.cast(times, pa.string()),
                    pa.array(rng.integers(0, 50_000, n)),
                    pa.array(rng.integers(0, 10_000, n)),
                    amount,
                ],
                schema=_tx_schema(),
            )
            tx_out.write_batch(batch)
            fraud = ids[rng.random(n) < 0.008]
            label_out.write_batch(
                pa.RecordBatch.from_arrays(
                    [pa.array(fraud), pa.array(np.ones(len(fraud), np.int8))],
                    schema=label_schema,
                )
            )
    return transactions, labels


def _tx_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("TRANSACTION_ID", pa.int64()),
            ("TX_DATETIME", pa.string()),
            ("CUSTOMER_ID", pa.int64()),
            ("TERMINAL_ID", pa.int64()),
            ("TX_AMOUNT", pa.string()),
        ]
    )


MAPPING = (
    "columns: {transaction_id: TRANSACTION_ID, event_time: TX_DATETIME, card_id: CUSTOMER_ID,\n"
    "          customer_id: CUSTOMER_ID, merchant_id: TERMINAL_ID, amount: TX_AMOUNT}\n"
    "constants: {mcc: 5999}\n"
    "label_columns: {transaction_id: TRANSACTION_ID, is_fraud: TX_FRAUD}\n"
)


def _import(
    transactions: str, labels: str, mapping: str, out: str, workers: int
) -> dict[str, float]:
    import resource
    import time
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from securebank.data.importer import ColumnMapping, ImportOptions, import_dataset

    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the code, no data
    started = time.perf_counter()
    summary = import_dataset(
        Path(transactions),
        Path(labels),
        ColumnMapping.load(Path(mapping)),
        Path(out),
        ImportOptions(
            timezone=ZoneInfo("Europe/Paris"), label_delay=timedelta(days=7), workers=workers
        ),
    )
    return {
        "seconds": time.perf_counter() - started,
        "baseline_mb": baseline_mb,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    } | {
        key: getattr(summary, key)
        for key in ("rows", "accepted", "rejected", "amounts_rounded", "labels", "days")
    }


def _in_fresh_process(target, *args):
    """Run `target` in a new process. Linux carries a parent's peak RSS over fork and exec into
    the child's ru_maxrss, so this parent stays small: it generates nothing itself. Not a daemon,
    so the importer may start its own workers."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(target, *args).result()


def measure(rows: int, folder: Path, workers: int) -> dict[str, float | int]:
    transactions, labels = _in_fresh_process(write_bank_files, rows, folder)
    mapping = folder / "mapping.yaml"
    mapping.write_text(MAPPING)
    csv_mb = transactions.stat().st_size / 1e6
    args = (str(transactions), str(labels), str(mapping), str(folder / "out"), workers)
    summary = _in_fresh_process(_import, *args)
    peak_mb = summary["peak_mb"]
    if summary["accepted"] != rows:
        raise SystemExit(f"expected every row accepted, got {summary}")
    seconds = summary["seconds"]  # the import itself, not the fresh process's start
    return {
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
        "peak_mb": round(peak_mb, 1),
        "baseline_mb": round(summary["baseline_mb"], 1),
        "worker_peak_mb": round(summary["worker_peak_mb"], 1),
        "csv_mb": round(csv_mb, 1),
        "amounts_rounded": summary["amounts_rounded"],
        "labels": summary["labels"],
        "days": summary["days"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--also", type=int, default=None, help="a second, smaller file")
    parser.add_argument("--workers", type=int, default=1, help="validating processes")
    args = parser.parse_args()
    figures: dict[str, float | int] = {}
    if args.also:
        with tempfile.TemporaryDirectory() as folder:
            small = measure(args.also, Path(folder), args.workers)
        figures |= {f"small_{key}": value for key, value in small.items()}
    with tempfile.TemporaryDirectory() as folder:
        figures = measure(args.rows, Path(folder), args.workers) | figures
    figures["workers"] = args.workers
    emit(figures)


if __name__ == "__main__":
    main()
