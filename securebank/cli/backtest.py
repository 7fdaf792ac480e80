"""`securebank backtest`: the prequential backtest of `training.backtest`, printed and tracked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console, progress
from securebank.cli.errors import UserError
from securebank.data.dataset import DatasetError, read_labels, read_transactions

SettingOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="KEY=VALUE for the main configuration, repeatable: a hyperparameter (max_depth, "
        "eta, ...), feature_set=VERSION or tuning_trials=N.",
    ),
]
CompareOption = Annotated[
    list[str] | None,
    typer.Option(
        "--compare",
        help="KEY=VALUE, repeatable: run a second configuration (the main one with these "
        "settings changed) on the same folds, side by side.",
    ),
]


def _settings(pairs: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UserError(f"{option} takes KEY=VALUE, got {pair!r}")
        out[name.strip()] = value.strip()
    return out


def _label(settings: dict[str, str], fallback: str) -> str:
    return ",".join(f"{k}={v}" for k, v in settings.items()) or fallback


def fold_table(results: list[Any]) -> Table:
    from securebank.training.backtest import METRICS

    table = Table(title="Prequential backtest (test windows; mean last)")
    table.add_column("config")
    table.add_column("fold")
    table.add_column("test from")
    table.add_column("frauds", justify="right")
    for name in METRICS:
        table.add_column(name, justify="right")
    table.add_column("top feature")
    for result in results:
        for fold in result.folds:
            table.add_row(
                result.config.name,
                str(fold.fold),
                str(fold.plan.test_start),
                f"{fold.rows['test_fraud']:,}",
                *(f"{fold.metrics[m]:.4f}" for m in METRICS),
                f"{fold.top_feature} ({fold.top_feature_gain_share:.0%})",
            )
        mean = result.mean()
        table.add_row(
            result.config.name,
            "mean",
            "",
            "",
            *(f"{mean[m]:.4f}" for m in METRICS),
            f"({mean['top_feature_gain_share']:.0%})",
            end_section=True,
        )
    return table


def scenario_table(results: list[Any]) -> Table | None:
    names = sorted({s for r in results for f in r.folds for s in f.by_scenario})
    if not names:
        return None
    table = Table(title="Recall at the 1 %-FPR threshold per fraud scenario (mean over folds)")
    table.add_column("scenario")
    for result in results:
        table.add_column(result.config.name, justify="right")
    for name in names:
        recalls = [result.scenario_recall(name) for result in results]
        table.add_row(name, *("-" if r is None else f"{r:.3f}" for r in recalls))
    return table


def backtest_command(
    data: Annotated[Path, typer.Option(help="Dataset folder (imported or simulated).")] = Path(
        ".securebank/data/simulated"
    ),
    folds: Annotated[int, typer.Option(min=1, help="Number of folds.")] = 4,
    train_days: Annotated[int, typer.Option(min=1, help="Training window per fold.")] = 7,
    delay_days: Annotated[int, typer.Option(min=0, help="Label delay: gap before test.")] = 7,
    test_days: Annotated[int, typer.Option(min=1, help="Test window per fold.")] = 7,
    settings: SettingOption = None,
    compare: CompareOption = None,
    out: Annotated[Path | None, typer.Option(help="Write the full result as JSON.")] = None,
    track: Annotated[bool, typer.Option(help="Track in MLflow (parent + child per fold).")] = True,
) -> None:
    """Prequential backtest: train, wait the label delay, assess; per fold and mean."""
    from securebank.training.backtest import (
        BacktestConfig,
        BacktestError,
        BacktestPlan,
        run_backtest,
    )
    from securebank.training.backtest import (
        compare as side_by_side,
    )
    from securebank.training.time_plan import PlanError

    main = _settings(settings, "--set")
    other = _settings(compare, "--compare")
    try:
        plan = BacktestPlan(folds, train_days, delay_days, test_days)
        configs = [BacktestConfig.from_settings(_label(main, "default"), main)]
        if other:
            configs.append(BacktestConfig.from_settings(_label(other, "compared"), main | other))
        transactions = read_transactions(data)
        labels = read_labels(data)
    except (BacktestError, PlanError, DatasetError) as error:
        raise UserError(str(error)) from error
    results = []
    try:
        with progress() as bar:
            task = bar.add_task("backtest", total=folds * len(configs))
            for config in configs:
                bar.update(task, description=f"backtest {config.name}")
                results.append(
                    run_backtest(
                        transactions,
                        labels,
                        plan,
                        config,
                        on_fold=lambda _f: bar.update(task, advance=1),
                    )
                )
    except (BacktestError, PlanError) as error:
        raise UserError(str(error)) from error
    console.print(fold_table(results))
    scenarios = scenario_table(results)
    if scenarios is not None:
        console.print(scenarios)
    document: dict[str, Any] = {"plan": vars(plan), "results": [r.to_dict() for r in results]}
    if len(results) == 2:
        document["comparison"] = side_by_side(results[0], results[1])
        for name, values in document["comparison"]["mean"].items():
            console.print(
                f"{name}: {values['a']:.4f} -> {values['b']:.4f} ({values['b_minus_a']:+.4f})"
            )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=2, default=str))
        console.print(f"wrote {out}")
    if track:
        from securebank.pipelines.tracking import log_backtest

        config = context.settings()
        run_id = log_backtest(config.tracking_uri, plan, results, "backtest")
        console.print(f"MLflow run {run_id} (experiment securebank-backtest)")
