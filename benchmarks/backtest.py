"""Benchmark: the prequential backtest on the default simulated dataset.

The protocol of the fraud-ML literature: 4 folds of train 7 days, label delay 7 days, test 7 days
(`securebank backtest`'s defaults). The dataset is simulated first (not timed): the
`data generate` defaults (200,000 transactions over 90 days, seed 7). Every fold's figures
are printed, then their mean; `--set KEY=VALUE` changes the configuration (e.g.
`--set tuning_trials=8`, `--set feature_set=VERSION`).

    python benchmarks/backtest.py [--transactions N] [--set KEY=VALUE ...]
Last line: {"folds": N, "roc_auc": A, "ap": P, "cp_at_100": C, "top_feature_gain_share": G,
"seconds": S}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--train-days", type=int, default=7)
    parser.add_argument("--delay-days", type=int, default=7)
    parser.add_argument("--test-days", type=int, default=7)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    from securebank.data.simulator.generate import SimulationConfig, simulate
    from securebank.training.backtest import BacktestConfig, BacktestPlan, run_backtest

    transactions, labels, _ = simulate(
        SimulationConfig(transactions=args.transactions, seed=args.seed)
    )
    settings = dict(pair.split("=", 1) for pair in args.set)
    config = BacktestConfig.from_settings(",".join(args.set) or "default", settings)
    plan = BacktestPlan(args.folds, args.train_days, args.delay_days, args.test_days)

    def show(fold) -> None:
        metrics = " ".join(f"{k} {v:.4f}" for k, v in fold.metrics.items())
        print(
            f"fold {fold.fold} test {fold.plan.test_start}: {metrics} "
            f"frauds {fold.rows['test_fraud']} top {fold.top_feature} "
            f"{fold.top_feature_gain_share:.2f} ({fold.seconds:.1f} s)",
            flush=True,
        )

    result = run_backtest(transactions, labels, plan, config, on_fold=show)
    mean = result.mean()
    emit(
        {
            "folds": len(result.folds),
            "roc_auc": round(mean["roc_auc"], 4),
            "ap": round(mean["ap"], 4),
            "cp_at_100": round(mean["cp_at_100"], 4),
            "top_feature_gain_share": round(mean["top_feature_gain_share"], 4),
            "seconds": round(result.seconds, 1),
        }
    )


if __name__ == "__main__":
    main()
