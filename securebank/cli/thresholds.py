"""`securebank thresholds`: the cost trade-off of a model's review and decline thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.decision import Thresholds
from securebank.model_artifact import IncompatibleModel, ModelManifest, load_model
from securebank.registry import RegistryError, load_version_model
from securebank.training.thresholds import (
    CostModel,
    CostPoint,
    ScoreProfile,
    choose_cost_thresholds,
    cost_at,
    cost_curve,
)


def _manifest(model: int | None, model_dir: Path | None) -> ModelManifest:
    if (model is None) == (model_dir is None):
        raise UserError("give exactly one of --model N or --model-dir DIR")
    try:
        if model_dir is not None:
            return load_model(model_dir, feature_set=None).manifest
        config = context.settings()
        aws = context.clients(config)
        _, found = load_version_model(
            context.registry(aws, config), aws.client("s3"), model, feature_set=None
        )
        return found.manifest
    except (OSError, IncompatibleModel, RegistryError) as error:
        raise UserError(f"cannot read the model: {error}") from error


def _row(point: CostPoint, mark: str) -> list[str]:
    return [
        mark,
        f"{point.review:.4f}",
        f"{point.decline:.4f}",
        f"{point.reviews_per_day:,.1f}",
        f"{point.declines_per_day:,.1f}",
        f"{point.loss_left_per_day:,.2f}",
        f"{point.review_cost_per_day:,.2f}",
        f"{point.decline_cost_per_day:,.2f}",
        f"{point.total_per_day:,.2f}",
    ]


def thresholds_command(
    review_cost: Annotated[float, typer.Option(min=0, help="Cost of one review.")],
    decline_cost: Annotated[
        float, typer.Option(min=0, help="Cost of declining one good customer.")
    ],
    capacity: Annotated[
        float, typer.Option(min=0, help="Reviews the analysts can do per day (0: no limit).")
    ] = 0.0,
    model: Annotated[int | None, typer.Option(min=1, help="Model version (registry).")] = None,
    model_dir: Annotated[Path | None, typer.Option(help="A model folder instead.")] = None,
    rows: Annotated[int, typer.Option(min=3, max=200, help="Rows of the curve to show.")] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="The whole curve as JSON.")] = False,
) -> None:
    """Expected daily cost (fraud let through + reviews + good customers declined) against the
    review threshold, each with its best decline threshold within capacity; the cheapest pair is
    marked, and the model's own thresholds are priced the same way."""
    manifest = _manifest(model, model_dir)
    if not manifest.cost_profile:
        raise UserError("this model has no cost profile (trained before thresholds from cost)")
    profile = ScoreProfile.from_dict(manifest.cost_profile)
    costs = CostModel(review_cost, decline_cost, capacity)
    curve = cost_curve(profile, costs)
    if not curve:
        raise UserError("no thresholds fit that capacity")
    chosen, rule, best = choose_cost_thresholds(profile, costs)
    current = cost_at(
        profile, costs, Thresholds(manifest.review_threshold, manifest.decline_threshold)
    )
    if as_json:
        document = {
            "chosen": {"review": chosen.review, "decline": chosen.decline, "rule": rule},
            "model_thresholds": {**current.__dict__, "total_per_day": current.total_per_day},
            "curve": [{**p.__dict__, "total_per_day": p.total_per_day} for p in curve],
        }
        console.print_json(json.dumps(document))
        return
    step = max(1, len(curve) // rows)
    shown = curve[::step]
    table = Table(
        title=f"Cost trade-off ({profile.transactions:,} validation transactions over "
        f"{profile.days:.1f} days; per day)"
    )
    for column in (
        "",
        "review ≥",
        "decline ≥",
        "reviews",
        "declines",
        "fraud loss left",
        "review cost",
        "decline cost",
        "total",
    ):
        table.add_column(column, justify="right")
    for point in shown:
        table.add_row(*_row(point, "*" if point == best else ""))
    if best not in shown:
        table.add_row(*_row(best, "*"))
    table.add_row(*_row(current, "model"))
    console.print(table)
    console.print(
        f"* cheapest: review ≥ {chosen.review:.4f}, decline ≥ {chosen.decline:.4f} ({rule})"
    )
    console.print(f"model: the thresholds in its manifest ({manifest.threshold_rule})")
