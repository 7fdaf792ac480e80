"""Reading the dataset layout that `data generate` and `data import` write."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from securebank.contract import LABEL_SCHEMA, TRANSACTION_SCHEMA


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
