"""Challenger replay throughput: a simulated history through the online path, two models, rules.

Generates `--transactions` simulated transactions, replays them all through the online feature
path (`securebank.rules.challenger.compare`), and compares two models on the last `--period-days`,
with the 50-rule set of benchmarks/rules.py when `--rules` is given (default). Replay throughput
is the history replayed per second (features, both models' scoring, rules on the period).
Goal (issue #15): >= 20,000 transactions/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit
from rules import rule_set_text

from securebank.data.simulator.generate import SimulationConfig, simulate
from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from securebank.model_artifact import FraudModel, load_model
from securebank.rules.challenger import compare
from securebank.rules.ruleset import compile_rule_set


def _model(folder: Path) -> FraudModel:
    from securebank.training import train

    rng = np.random.default_rng(1)
    for name in ("train", "validation"):
        frame = pd.DataFrame(
            rng.normal(size=(5000, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES)
        )
        frame["is_fraud"] = (rng.random(5000) < 0.05).astype(int)
        frame["event_time"] = pd.Timestamp("2026-01-01")
        (folder / name).mkdir(parents=True)
        frame.to_parquet(folder / name / "part.parquet")
    train.main(
        [],
        {
            "SM_CHANNEL_TRAIN": str(folder / "train"),
            "SM_CHANNEL_VALIDATION": str(folder / "validation"),
            "SM_MODEL_DIR": str(folder / "model"),
            "SM_HPS": json.dumps({"num_round": "100", "early_stopping_rounds": "100"}),
        },
    )
    return load_model(folder / "model", feature_set=FEATURE_SET_VERSION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=200_000)
    parser.add_argument("--period-days", type=int, default=7)
    parser.add_argument("--no-rules", action="store_true")
    args = parser.parse_args()
    transactions, labels, _ = simulate(SimulationConfig(transactions=args.transactions, seed=7))
    last = pc.max(transactions["event_time"]).as_py()
    end = last + timedelta(seconds=1)
    start = end - timedelta(days=args.period_days)
    with tempfile.TemporaryDirectory() as folder:
        champion = _model(Path(folder))
    challenger = FraudModel(
        champion.booster,
        replace(champion.manifest, review_threshold=champion.manifest.review_threshold / 2),
    )
    rules = None
    lists: dict[str, frozenset] = {}
    if not args.no_rules:
        rules = compile_rule_set(rule_set_text(50, random.Random(15)), "bench")
        cards = transactions["card_id"].to_pylist()
        lists = {"blocked_cards": frozenset(cards[::997])}
    result = compare(
        transactions, labels, start, end, ("1", champion), ("2", challenger), rules, lists
    )
    emit(
        {
            "transactions": result.replayed,
            "period_transactions": result.transactions,
            "rules": 0 if rules is None else len(rules.rules),
            "seconds": round(result.seconds, 2),
            "replay_tps": round(result.replay_tps),
            "changed_decisions": sum(result.changes.values()),
        }
    )


if __name__ == "__main__":
    main()
