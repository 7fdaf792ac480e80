"""The dataset layout that `data generate` and `data import` write, and reading it back.

A dataset folder holds `transactions/date=YYYY-MM-DD/part-0.parquet` (one file per UTC day),
`labels/labels.parquet` and `manifest.json`. `slice_dataset` cuts one by time, a day at a time.
In the lake a dataset lives under `raw_uri(LAKE)` in the same layout (`data.upload`), where the
training pipeline reads it by default.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from securebank.contract import LABEL_SCHEMA, TRANSACTION_SCHEMA

_DAY_MS = 86_400_000
#: The lake's prefix for the dataset the pipeline trains on.
RAW_PREFIX = "raw"


class DatasetError(ValueError):
    """The folder does not hold a dataset in the expected layout."""


def raw_uri(lake_bucket: str) -> str:
    """Where the dataset the pipeline reads by default lives in the lake (no trailing slash)."""
    return f"s3://{lake_bucket}/{RAW_PREFIX}"


def transactions_path(root: Path) -> Path:
    return root / "transactions"


def labels_path(root: Path) -> Path:
    return root / "labels"


def day_folder(root: Path, day: int | date) -> Path:
    """The partition folder of one UTC day (a date, or days since 1970-01-01)."""
    if isinstance(day, int):
        day = datetime.fromtimestamp(day * 86_400, UTC).date()
    return transactions_path(root) / f"date={day.isoformat()}"


def _time_filter(start: datetime | None, end: datetime | None) -> ds.Expression | None:
    """event_time in [start, end)."""
    condition = None
    if start is not None:
        condition = ds.field("event_time") >= pa.scalar(start, pa.timestamp("ms", tz="UTC"))
    if end is not None:
        before = ds.field("event_time") < pa.scalar(end, pa.timestamp("ms", tz="UTC"))
        condition = before if condition is None else condition & before
    return condition


def read_transactions(
    root: Path, start: datetime | None = None, end: datetime | None = None
) -> pa.Table:
    """Every transaction, or those with start <= event_time < end (aware datetimes)."""
    folder = transactions_path(root)
    if not folder.is_dir():
        raise DatasetError(f"no transactions under {folder} (run `securebank data generate`)")
    dataset = ds.dataset(folder, format="parquet", partitioning="hive", schema=None)
    table = dataset.to_table(columns=TRANSACTION_SCHEMA.names, filter=_time_filter(start, end))
    try:
        return table.cast(TRANSACTION_SCHEMA)
    except ValueError as error:  # a null in a required column
        raise DatasetError(f"{folder}: {error}") from error


def known_before(
    transactions: pa.Table, labels: pa.Table, cut: datetime
) -> tuple[pa.Table, pa.Table]:
    """What was known at `cut`: transactions that happened before it, labels reported before it."""
    stamp = pa.scalar(cut, pa.timestamp("ms", tz="UTC"))
    return (
        transactions.filter(pc.less(transactions["event_time"], stamp)),
        labels.filter(pc.less(labels["reported_at"], stamp)),
    )


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
    if len(day) == 0:
        raise DatasetError("no transactions to write")
    boundaries = np.flatnonzero(np.diff(day)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(day)]])
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        folder = day_folder(out, int(day[a]))
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(transactions.slice(a, b - a), folder / "part-0.parquet")
        if on_day is not None:
            on_day(i + 1, len(starts))
    (out / "labels").mkdir(parents=True, exist_ok=True)
    pq.write_table(labels, out / "labels" / "labels.parquet")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))


@dataclass(frozen=True)
class SliceSummary:
    days: int
    transactions: int
    labels: int


def slice_dataset(root: Path, out: Path, start: datetime, end: datetime) -> SliceSummary:
    """Copy the transactions with start <= event_time < end, and their labels, to `out`.

    Reads one day partition at a time; labels are those of the kept transactions, whenever they
    were reported (a label reported after `end` is still that transaction's outcome).
    """
    if start >= end:
        raise DatasetError("the slice is empty: --from must be before --to")
    folder = transactions_path(root)
    if not folder.is_dir():
        raise DatasetError(f"no transactions under {folder}")
    if out.resolve() == root.resolve():
        raise DatasetError("the slice must go to another folder than its dataset")
    for stale in (transactions_path(out), labels_path(out)):
        if stale.is_dir():
            shutil.rmtree(stale)
    kept_ids: list[pa.Array] = []
    days = rows = 0
    condition = _time_filter(start, end)
    for partition in sorted(folder.glob("date=*")):
        try:
            day = date.fromisoformat(partition.name.removeprefix("date="))
        except ValueError:
            continue
        if not start.date() <= day <= end.date():
            continue
        table = (
            ds.dataset(partition, format="parquet")
            .to_table(columns=TRANSACTION_SCHEMA.names, filter=condition)
            .cast(TRANSACTION_SCHEMA)
        )
        if table.num_rows == 0:
            continue
        target = day_folder(out, day)
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / "part-0.parquet")
        kept_ids.append(table["transaction_id"].combine_chunks())
        days += 1
        rows += table.num_rows
    labels = read_labels(root)
    if kept_ids:
        labels = labels.filter(pc.is_in(labels["transaction_id"], pa.concat_arrays(kept_ids)))
    else:
        labels = labels.slice(0, 0)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    pq.write_table(labels, out / "labels" / "labels.parquet")
    source = root / "manifest.json"
    manifest = json.loads(source.read_text()) if source.is_file() else {}
    manifest["slice"] = {
        "source": str(root),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "transactions": rows,
        "labels": labels.num_rows,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return SliceSummary(days=days, transactions=rows, labels=labels.num_rows)
