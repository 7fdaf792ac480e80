"""The `securebank` command: one entry point for every job of the platform."""

from __future__ import annotations

import sys

import typer

from securebank.cli import (
    analytics,
    api,
    backtest,
    cost,
    data,
    demo,
    endpoint,
    features,
    lake,
    model,
    operations,
    pipeline,
    replay,
    reshard,
    rules,
    score,
    stack,
    stream,
    thresholds,
    warehouse,
)
from securebank.cli.console import errors
from securebank.cli.errors import UserError

app = typer.Typer(
    name="securebank",
    help="SecureBank fraud platform: data, features, training, serving and streaming.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(stack.app, name="stack")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(model.app, name="model")
app.add_typer(endpoint.app, name="endpoint")
app.add_typer(stream.app, name="stream")
stream.app.command("reshard")(reshard.reshard_command)
stream.app.command("shards")(reshard.shards_command)
app.add_typer(analytics.analytics_app, name="analytics")
app.add_typer(analytics.report_app, name="report")
app.add_typer(analytics.monitor_app, name="monitor")
app.command("score")(score.score_command)
app.command("backtest")(backtest.backtest_command)
app.command("demo")(demo.demo_command)
app.command("cost")(cost.cost_command)
app.add_typer(api.app, name="api")
app.add_typer(rules.app, name="rules")
app.command("thresholds")(thresholds.thresholds_command)
app.command("replay")(replay.replay_command)
app.add_typer(lake.app, name="lake")
app.add_typer(warehouse.app, name="warehouse")
app.command("load")(api.load_command)
operations.register(app, analytics.monitor_app)


def _say(line: str) -> None:
    errors.print(line, markup=False, highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI. A usage or user error prints one line on stderr and exits non-zero."""
    command = typer.main.get_command(app)
    try:
        result = command.main(
            args=sys.argv[1:] if argv is None else argv,
            prog_name="securebank",
            standalone_mode=False,
        )
    except typer.Exit as stop:
        return stop.exit_code
    except typer.Abort:
        _say("aborted")
        return 130
    except UserError as error:
        _say(f"error: {error}")
        return 1
    except typer.TyperException as error:
        ctx = getattr(error, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        if message:
            _say(f"error: {message}{hint}")
        return int(getattr(error, "exit_code", 2))
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
