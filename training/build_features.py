"""Step 1, a SageMaker Processing script: raw transactions and labels → features → splits.

Inputs: `input/transactions` (the dataset layout of `data generate`, hive-partitioned Parquet)
and `input/labels`. Outputs: `output/train`, `output/validation`, `output/test`, each one Parquet
file of key columns, every feature, the target `is_fraud` (counting only labels reported before
the next split starts) and `fraud_scenario` (ground truth, for evaluation only). `train` also
holds `plan.json`, the split plan.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from securebank.dataset import read_labels, read_transactions
from securebank.features.offline import build_features
from securebank.features.online import epoch_ms
from securebank.training.container import PROCESSING_ROOT, processing_input, processing_output
from securebank.training.splits import SPLITS, assign_splits, plan_splits, targets


def _optional_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=PROCESSING_ROOT)
    parser.add_argument("--validation-start", default="", help="YYYY-MM-DD; default from data")
    parser.add_argument("--test-start", default="", help="YYYY-MM-DD; default from data")
    parser.add_argument("--label-delay-days", type=int, default=7)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, int]:
    args = parse_args(argv)
    transactions = read_transactions(processing_input(args.root, "transactions").parent)
    labels = read_labels(processing_input(args.root, "labels").parent)
    times = transactions["event_time"]
    first, last = pc.min(times).as_py().date(), pc.max(times).as_py().date()
    plan = plan_splits(
        first,
        last,
        gap_days=args.label_delay_days,
        validation_start=_optional_date(args.validation_start),
        test_start=_optional_date(args.test_start),
    )
    features = build_features(transactions, labels)
    fraud = labels.filter(labels["is_fraud"]).to_pandas()
    reported = {
        t: epoch_ms(r.to_pydatetime())
        for t, r in zip(fraud["transaction_id"], fraud["reported_at"], strict=True)
    }
    scenario = dict(zip(fraud["transaction_id"], fraud["fraud_scenario"], strict=True))
    event_ms = features["event_time"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
    masks = assign_splits(event_ms, plan)
    counts: dict[str, int] = {}
    for name in SPLITS:
        part = features.loc[masks[name]].reset_index(drop=True)
        ids = part["transaction_id"].to_numpy()
        part["is_fraud"] = targets(ids, reported, plan.label_cutoffs()[name])
        part["fraud_scenario"] = [scenario.get(t) for t in ids]
        out = processing_output(args.root, name)
        out.mkdir(parents=True, exist_ok=True)
        part.to_parquet(out / "part-0.parquet", index=False)
        counts[name] = len(part)
        counts[f"{name}_fraud"] = int(np.sum(part["is_fraud"]))
    document = {**plan.to_dict(), "rows": counts}
    (processing_output(args.root, "train") / "plan.json").write_text(json.dumps(document, indent=2))
    return counts


if __name__ == "__main__":
    print(json.dumps(main()))
