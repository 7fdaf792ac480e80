"""`securebank cost --tpm N`: what the live path costs on AWS a month at N transactions/minute."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from securebank.cli.console import console
from securebank.cli.errors import UserError
from securebank.cost import MEASURED, PRICES_AS_OF, Usage, monthly_cost


def cost_command(
    tpm: Annotated[float, typer.Option(min=1, help="Transactions per minute.")] = 10_000,
    usage: Annotated[
        Path | None,
        typer.Option(help="Usage per transaction measured by benchmarks/stream.py --usage-out."),
    ] = None,
    shards: Annotated[int, typer.Option(min=1, help="Kinesis shards (terraform's default).")] = 2,
    endpoint_instances: Annotated[int, typer.Option(min=0, help="ml.m5.large instances.")] = 1,
    records_per_batch: Annotated[
        float | None,
        typer.Option(min=1, help="Model Lambda batches of this size (default: as measured)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Monthly AWS cost of the live path (Kinesis, Lambda, DynamoDB, S3, SNS, SQS, endpoint)."""
    try:
        measured = Usage.load(usage) if usage else MEASURED
    except (OSError, ValueError, TypeError) as error:
        raise UserError(f"cannot read usage: {error}".splitlines()[0]) from error
    if records_per_batch is not None:
        measured = measured.with_batch(records_per_batch)
    lines = monthly_cost(tpm, measured, shards=shards, endpoint_instances=endpoint_instances)
    total = sum(line.monthly_usd for line in lines)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "tpm": tpm,
                    "monthly_usd": round(total, 2),
                    "lines": [
                        {
                            "service": x.service,
                            "what": x.what,
                            "monthly_usd": round(x.monthly_usd, 2),
                        }
                        for x in lines
                    ],
                    "usage_per_transaction": measured.__dict__,
                    "prices_as_of": PRICES_AS_OF,
                }
            )
        )
        return
    table = Table(title=f"AWS cost a month at {tpm:,.0f} transactions/minute")
    table.add_column("service")
    table.add_column("what")
    table.add_column("USD / month", justify="right")
    for line in lines:
        table.add_row(line.service, line.what, f"{line.monthly_usd:,.2f}")
    table.add_row("total", "", f"{total:,.2f}")
    console.print(table)
    per_million = total / (tpm * 60 * 730) * 1e6
    console.print(f"{per_million:,.2f} USD per million transactions")
    console.print(f"usage per transaction: {measured.measured or usage}")
    console.print(f"prices: {PRICES_AS_OF}; free tiers, tax and data transfer out not included")
