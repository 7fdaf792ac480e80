"""Step 1, a SageMaker Processing script: raw transactions and labels → features → windows.

Inputs: `input/transactions` (the dataset layout of `data generate`, hive-partitioned Parquet)
and `input/labels`. The time plan (`time_plan.plan_from_data`, from the step's arguments) says
which days feed features only, train, validate and test. Features are built over every row from
the history start, so the training window's first rows already have warm windows.

Outputs, each one Parquet file of key columns, every feature, the target `is_fraud` and
`fraud_scenario` (ground truth, for evaluation only), holding only rows whose label is mature
at the window's cutoff (see `time_plan`):
`output/train` (labels as of the validation start; also `plan.json`), `output/validation`
(labels as of the test start), `output/refit` (train + gap + validation, labels as of the test
start: what the registered model is refitted on) and `output/test` (every label the data holds;
rows newer than its label horizon minus the delay are left out; also `compromised_cards.json`,
each defrauded card's first fraud report, for Card Precision@100's known-compromised rule).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from securebank.data.dataset import read_labels, read_transactions
from securebank.features.offline import build_features
from securebank.pipelines.steps import FEATURES_FILE
from securebank.training.container import PROCESSING_ROOT, processing_input, processing_output
from securebank.training.time_plan import (
    PlanError,
    TimePlan,
    day_ms,
    fraud_reports,
    known_labels,
    label_horizon_ms,
    plan_from_data,
)

OUTPUTS = ("train", "validation", "refit", "test")
#: In `output/test`: card → first fraud report (ms) over the whole history.
COMPROMISED_FILE = "compromised_cards.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=PROCESSING_ROOT)
    parser.add_argument("--history-start", default="", help="YYYY-MM-DD; default: first day")
    parser.add_argument("--train-days", type=int, default=0, help="0: from the history start")
    parser.add_argument("--validation-days", type=int, default=0, help="0: 15 %% of the days")
    parser.add_argument("--test-days", type=int, default=0, help="0: 20 %% of the days")
    parser.add_argument("--test-start", default="", help="YYYY-MM-DD; default: last test days")
    parser.add_argument("--label-delay-days", type=int, default=7)
    return parser.parse_args(argv)


def _windows(plan: TimePlan) -> dict[str, tuple[int, int, int | None]]:
    """Per output: [start, end) in ms and the label cutoff in ms (None: the data's horizon)."""
    test_start = day_ms(plan.test_start)
    return {
        "train": (day_ms(plan.train_start), day_ms(plan.train_end), day_ms(plan.validation_start)),
        "validation": (day_ms(plan.validation_start), day_ms(plan.validation_end), test_start),
        "refit": (day_ms(plan.train_start), day_ms(plan.validation_end), test_start),
        "test": (test_start, day_ms(plan.test_end), None),
    }


def _write_compromised_cards(features, reported: dict[str, int], out: Path) -> None:
    """Card → first fraud report (ms), for Card Precision's known-compromised rule."""
    ids = features["transaction_id"].to_numpy()
    fraud = np.fromiter((t in reported for t in ids), dtype=bool, count=len(ids))
    first: dict[str, int] = {}
    for card, tid in zip(features["card_id"].to_numpy()[fraud], ids[fraud], strict=True):
        at = reported[tid]
        first[str(card)] = min(first.get(str(card), at), at)
    (out / COMPROMISED_FILE).write_text(json.dumps(first))


def main(argv: list[str] | None = None) -> dict[str, int]:
    args = parse_args(argv)
    transactions = read_transactions(processing_input(args.root, "transactions").parent)
    labels = read_labels(processing_input(args.root, "labels").parent)
    times = transactions["event_time"]
    first, last = pc.min(times).as_py().date(), pc.max(times).as_py().date()
    plan = plan_from_data(
        first,
        last,
        label_delay_days=args.label_delay_days,
        history_start=args.history_start,
        train_days=args.train_days,
        validation_days=args.validation_days,
        test_days=args.test_days,
        test_start=args.test_start,
    )
    start = pa.scalar(day_ms(plan.history_start), pa.timestamp("ms", tz="UTC"))
    in_plan = pc.greater_equal(times.cast(pa.timestamp("ms", tz="UTC"), safe=False), start)
    features = build_features(transactions.filter(in_plan), labels)
    reported, scenario = fraud_reports(labels)
    event_ms = features["event_time"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
    horizon = label_horizon_ms(event_ms, reported)
    counts: dict[str, int] = {}
    for name, (lo, hi, cutoff) in _windows(plan).items():
        window = (event_ms >= lo) & (event_ms < hi)
        ids = features["transaction_id"].to_numpy()[window]
        ripe, y = known_labels(
            ids,
            event_ms[window],
            reported,
            horizon if cutoff is None else cutoff,
            plan.label_delay_days,
        )
        part = features.loc[window].reset_index(drop=True).loc[ripe].reset_index(drop=True)
        part["is_fraud"] = y[ripe]
        part["fraud_scenario"] = [scenario.get(t) for t in part["transaction_id"]]
        frauds = int(part["is_fraud"].sum())
        if frauds == 0 or frauds == len(part):
            raise PlanError(
                f"the {name} window ({len(part)} rows with mature labels) holds "
                f"{'no fraud' if frauds == 0 else 'only fraud'} labelled by its cutoff: "
                "move or widen the windows, or raise LabelDelayDays"
            )
        out = processing_output(args.root, name)
        out.mkdir(parents=True, exist_ok=True)
        part.to_parquet(out / FEATURES_FILE, index=False)
        counts[name] = len(part)
        counts[f"{name}_fraud"] = frauds
        counts[f"{name}_immature"] = int((~ripe).sum())
    _write_compromised_cards(features, reported, processing_output(args.root, "test"))
    document = {**plan.to_dict(), "label_horizon_ms": horizon, "rows": counts}
    (processing_output(args.root, "train") / "plan.json").write_text(json.dumps(document, indent=2))
    return counts


if __name__ == "__main__":
    print(json.dumps(main()))
