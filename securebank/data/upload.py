"""A dataset folder into the lake (`s3://LAKE/raw/`), where the training pipeline reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from securebank.data.dataset import DatasetError, labels_path, raw_uri, transactions_path
from securebank.resources import ResourceNames
from securebank.s3io import delete_prefix, upload_dir


def upload_dataset(s3: Any, data: Path, names: ResourceNames) -> str:
    """Replace the lake's raw dataset with the folder `data`; return its URI.

    Raises DatasetError when the folder holds no transactions.
    """
    if not transactions_path(data).is_dir():
        raise DatasetError(f"no transactions under {transactions_path(data)}")
    base = raw_uri(names.lake_bucket)
    delete_prefix(s3, f"{base}/")
    upload_dir(s3, transactions_path(data), f"{base}/transactions")
    if labels_path(data).is_dir():
        upload_dir(s3, labels_path(data), f"{base}/labels")
    return base
