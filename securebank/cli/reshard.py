"""`securebank stream reshard N` and `stream shards`: scaling the stream without losing state."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from securebank.cli import context
from securebank.cli.console import console
from securebank.cli.errors import UserError


def reshard_command(
    shards: Annotated[int, typer.Argument(min=1, max=500, help="Open shards wanted.")],
    recycle: Annotated[
        bool, typer.Option(help="Recycle the scorer's Lambda containers (AWS) afterwards.")
    ] = True,
) -> None:
    """Reshard a provisioned stream; merchant partials of closed shards stay readable."""
    from securebank.scorer.shards import ReshardError, recycle_scorer, reshard

    config = context.settings()
    aws = context.clients(config)
    names = config.names
    try:
        result = reshard(
            aws.client("kinesis"), aws.client("dynamodb"), names.stream, names.feature_table, shards
        )
    except ReshardError as error:
        raise UserError(str(error)) from error
    console.print(
        f"stream {names.stream}: {result['before']} → {result['after']} open shards; "
        f"merchant partials read from {len(result['slots'])} shards"
    )
    if config.target == "aws" and recycle:
        epoch = recycle_scorer(aws.client("lambda"), f"{names.base}-scorer")
        console.print(f"scorer recycled ({epoch}): every container reads the new shard set")
    elif config.target == "local":
        console.print("restart `securebank stream run` so the local scorer reads the new shards")


def shards_command() -> None:
    """Shards of the stream (open, closed) and those whose merchant partials are read."""
    from securebank.scorer.shards import merchant_slots

    config = context.settings()
    aws = context.clients(config)
    kinesis = aws.client("kinesis")
    listed = kinesis.list_shards(StreamName=config.names.stream)["Shards"]
    slots = merchant_slots(
        kinesis, aws.client("dynamodb"), config.names.stream, config.names.feature_table
    )
    table = Table(title=f"stream {config.names.stream}")
    for column in ("shard", "parent", "state", "merchant partials read"):
        table.add_column(column)
    seen = set()
    for shard in listed:
        closed = "EndingSequenceNumber" in shard["SequenceNumberRange"]
        seen.add(shard["ShardId"])
        table.add_row(
            shard["ShardId"],
            shard.get("ParentShardId", ""),
            "closed" if closed else "open",
            "yes" if shard["ShardId"] in slots else "no",
        )
    for slot in slots:
        if slot not in seen:
            table.add_row(slot, "", "expired from ListShards", "yes")
    console.print(table)
