"""The dataset layout that `data generate` and `data import` write, and reading it back.

A dataset folder holds `transactions/date=YYYY-MM-DD/part-0.parquet` (one file per UTC day),
`labels/labels.parquet` and `manifest.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from securebank.contract import LABEL_SCHEMA, TRANSACTION_SCHEMA

_DAY_MS = 86_400_000


class DatasetError(ValueError):
    """The folder does not hold a dataset in the expected layout."""


def transactions_path(root: Path) -> Path:
    return root / "transactions"


def labels_path(root: Path) -> Path:
    return root / "labels"


def read_transactions(root: Path) -> pa.Table:
    folder = transactions_path(root)
    if not folder.is_dir():
        raise DatasetError(f"no transactions under {folder} (run `securebank data generate`)")
    dataset = ds.dataset(folder, format="parquet", partitioning="hive", schema=None)
    table = dataset.to_table(columns=TRANSACTION_SCHEMA.names)
    return table.cast(TRANSACTION_SCHEMA)


def read_labels(root: Path) -> pa.Table:
    folder = labels_path(root)
    if not folder.is_dir():
        return LABEL_SCHEMA.empty_table()
    return (
        ds.dataset(folder, format="parquet").to_table(columns=LABEL_SCHEMA.names).cast(LABEL_SCHEMA)
    )


def write_dataset(
    out: Path,
    transactions: pa.Table,
    labels: pa.Table,
    manifest: dict,
    on_day: Callable[[int, int], None] | None = None,
) -> None:
    """Write the dataset layout (one Parquet file per day) under `out`."""
    day = (pc.cast(transactions["event_time"], pa.int64()).to_numpy() // _DAY_MS).astype(np.int64)
    boundaries = np.flatnonzero(np.diff(day)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(day)]])
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        stamp = datetime.fromtimestamp(int(day[a]) * 86_400, UTC).date().isoformat()
        folder = out / "transactions" / f"date={stamp}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(transactions.slice(a, b - a), folder / "part-0.parquet")
        if on_day is not None:
            on_day(i + 1, len(starts))
    (out / "labels").mkdir(parents=True, exist_ok=True)
    pq.write_table(labels, out / "labels" / "labels.parquet")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
