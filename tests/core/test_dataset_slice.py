"""Cutting a dataset by time, and scoring a period with the history before it."""

import pyarrow as pa
import pytest

from securebank.contract import LABEL_SCHEMA, TRANSACTION_SCHEMA, parse_transaction
from securebank.data.dataset import (
    DatasetError,
    read_labels,
    read_transactions,
    slice_dataset,
    write_dataset,
)
from tests.builders import DAY, HOUR, T0, make_model_dir, txn


def small_dataset(root):
    records = [
        txn(f"t{i}", T0 + i * 6 * HOUR, card_id=f"tok_{i % 3}", amount=f"{10 + i}.00")
        for i in range(20)
    ]
    parsed = [parse_transaction(r, now=T0 + 30 * DAY).model_dump() for r in records]
    transactions = pa.Table.from_pylist(parsed, schema=TRANSACTION_SCHEMA)
    labels = pa.Table.from_pylist(
        [
            {"transaction_id": "t1", "is_fraud": True, "reported_at": T0 + 9 * DAY},
            {"transaction_id": "t9", "is_fraud": True, "reported_at": T0 + 9 * DAY},
            {"transaction_id": "t10", "is_fraud": False, "reported_at": T0 + 2 * DAY},
        ],
        schema=LABEL_SCHEMA,
    )
    write_dataset(root, transactions, labels, {"generator": "test"})
    return records


def test_slice_keeps_the_period_and_its_labels(tmp_path):
    small_dataset(tmp_path / "all")
    start, end = T0 + 2 * DAY, T0 + 3 * DAY + 6 * HOUR  # t8 .. t12, end exclusive
    summary = slice_dataset(tmp_path / "all", tmp_path / "cut", start, end)
    cut = read_transactions(tmp_path / "cut")
    assert cut["transaction_id"].to_pylist() == ["t8", "t9", "t10", "t11", "t12"]
    assert (summary.transactions, summary.days) == (5, 2)
    # a label reported after the slice's end is still its transaction's outcome
    assert sorted(read_labels(tmp_path / "cut")["transaction_id"].to_pylist()) == ["t10", "t9"]
    again = read_transactions(tmp_path / "all", start=start, end=end)
    assert again.equals(cut)
    with pytest.raises(DatasetError, match="must be before"):
        slice_dataset(tmp_path / "all", tmp_path / "cut", end, start)
    with pytest.raises(DatasetError, match="another folder"):
        slice_dataset(tmp_path / "all", tmp_path / "all", start, end)
    empty = slice_dataset(tmp_path / "all", tmp_path / "none", T0 + 30 * DAY, T0 + 31 * DAY)
    assert (empty.transactions, empty.labels) == (0, 0)


def test_scoring_a_period_uses_the_history_before_it(tmp_path):
    from securebank.features.definitions import FEATURE_SET_VERSION
    from securebank.inference.batch import score_history
    from securebank.model_artifact import load_model

    small_dataset(tmp_path / "all")
    folder, _, _ = make_model_dir(tmp_path / "model", 3)
    model = load_model(folder, feature_set=FEATURE_SET_VERSION)
    since = T0 + 3 * DAY
    transactions = read_transactions(tmp_path / "all", end=T0 + 4 * DAY)
    labels = read_labels(tmp_path / "all")
    period = score_history(model, transactions, labels, "1", since=since)
    everything = score_history(model, transactions, labels, "1")
    assert period["transaction_id"].tolist() == [f"t{i}" for i in range(12, 16)]
    tail = everything[everything["transaction_id"].isin(period["transaction_id"])]
    assert period["score"].tolist() == tail["score"].tolist()
    # what the history changes: the same period's features computed without it differ
    from securebank.features.definitions import FEATURE_NAMES
    from securebank.features.offline import build_features

    warm = build_features(transactions, labels).iloc[-4:].reset_index(drop=True)
    period_only = read_transactions(tmp_path / "all", start=since, end=T0 + 4 * DAY)
    cold = build_features(period_only, labels)
    assert warm["transaction_id"].tolist() == cold["transaction_id"].tolist()
    assert (warm[list(FEATURE_NAMES)] != cold[list(FEATURE_NAMES)]).any().any()
