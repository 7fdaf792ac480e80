"""`securebank rules ...` as a user meets it (the CLI's `main`, in process: a subprocess per call
costs seconds) against the local AWS over HTTP."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from securebank.cli.app import main
from securebank.settings import get_settings

_counter = itertools.count()

GOOD = """rules:
  - name: card-testing
    when: card_count_1h > 10 and amount_usd < 2
    action: review
    reason: card testing
"""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(moto_endpoint, tmp_path, monkeypatch, capsys):
    # The CLI's rich consoles are made at import time, so COLUMNS alone comes too late when another
    # test imported them first: widen them directly, or tables cut the columns asserted below.
    from securebank.cli import console as cli_console

    monkeypatch.setattr(cli_console.console, "width", 200)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("SECUREBANK_PREFIX", "sbcli")
    monkeypatch.setenv("SECUREBANK_ENVIRONMENT", f"r{next(_counter)}")
    monkeypatch.setenv("SECUREBANK_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()

    def securebank(*args: str, group: tuple[str, ...] = ("rules",)) -> Result:
        capsys.readouterr()
        code = main([*group, *args])
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    yield securebank
    get_settings.cache_clear()


def one_error(result) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_maker_checker_from_the_command_line(run, tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(GOOD.replace("< 2", "<"))
    assert "proposed rule-set version 1" in run("propose", "good.yaml", "--by", "alice").stdout
    assert "rule 1 (card-testing): expected a number" in one_error(
        run("propose", "bad.yaml", "--by", "alice")
    )
    assert "another person approves" in one_error(
        run("approve", "1", "--by", "alice", "--reason", "mine")
    )
    approved = run("approve", "1", "--by", "bob", "--reason", "card testing wave")
    assert approved.returncode == 0, approved.stderr
    assert run("propose", "good.yaml", "--by", "carol").returncode == 0
    assert run("approve", "2", "--by", "bob", "--reason", "same again").returncode == 0
    listed = run("list").stdout
    assert "card testing wave" in listed and "approved" in listed
    rolled = run("rollback", "--by", "dave", "--reason", "noise")
    assert "from rule-set version 2 to 1" in rolled.stdout
    assert "no earlier active version" in one_error(run("rollback", "--by", "d", "--reason", "r"))
    assert "card_count_1h > 10" in run("show", "1").stdout
    assert one_error(run("approve", "0", "--by", "b", "--reason", "r"))
    assert "cannot read" in one_error(run("propose", "missing.yaml", "--by", "a"))


def test_lists_from_the_command_line(run):
    added = run("list-add", "blocked_cards", "c-1", "c-2", "--by", "alice", "--reason", "ring")
    assert "2 added" in added.stdout, added.stderr
    assert run("list-show", "blocked_cards").stdout.split() == ["c-1", "c-2"]
    assert "never card numbers" in one_error(
        run("list-add", "blocked_cards", "4111111111111111", "--by", "a", "--reason", "r")
    )
    assert "1 removed" in run("list-remove", "blocked_cards", "c-1").stdout
    assert run("list-show", "blocked_cards").stdout.split() == ["c-2"]


def test_backtest_from_the_command_line(run, tmp_path):
    import json

    from securebank.data.simulator.generate import SimulationConfig, generate
    from securebank.training import train
    from tests.training.test_cost_thresholds import _split

    generate(SimulationConfig(transactions=6000, seed=3), tmp_path / "data")
    for name, seed in (("train", 1), ("validation", 2)):
        (tmp_path / name).mkdir()
        _split(1500, seed, "2026-01-01").to_parquet(tmp_path / name / "part.parquet")
    train.main(
        [],
        {
            "SM_CHANNEL_TRAIN": str(tmp_path / "train"),
            "SM_CHANNEL_VALIDATION": str(tmp_path / "validation"),
            "SM_MODEL_DIR": str(tmp_path / "model"),
            "SM_HPS": json.dumps({"num_round": "5", "nthread": "1"}),
        },
    )
    (tmp_path / "rules.yaml").write_text(
        GOOD.replace("card_count_1h > 10 and amount_usd < 2", "card_count_1h >= 2")
        + "  - {name: blocked, when: card_id in list blocked_cards, action: decline, reason: b}\n"
    )
    (tmp_path / "lists.yaml").write_text("blocked_cards: [tok_0000001, tok_0000002]\n")
    args = ["backtest", "--rules", "rules.yaml", "--data", "data", "--lists", "lists.yaml"]
    period = ["--from", "2026-07-10", "--to", "2026-07-20"]
    result = run(*args, *period, "--model-dir", "model", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["transactions"] > 0 and report["alerts"] > 0
    assert set(report["hits_per_rule"]) == {"card-testing", "blocked"}
    assert all("2026-07-10" <= day < "2026-07-20" for day in report["alerts_per_day"])
    o = report["overlap"]
    assert o["both"] + o["rules_only"] == report["alerts"]
    table = run(*args, *period)
    assert "Alerts per day" in table.stdout and "precision" in table.stdout
    assert "--from must be before --to" in one_error(
        run(*args, "--from", "2026-07-20", "--to", "2026-07-10")
    )
    assert "expected a mapping of list name" in one_error(run(*args[:-1], "rules.yaml", *period))


def test_replay_from_the_command_line(run, tmp_path, moto_endpoint, monkeypatch):
    """Two registered versions, a stored rule set; the replay writes its report and record, and
    `model deploy --canary` warns only for a version without a recorded replay."""
    from securebank.aws import AwsClients
    from securebank.data.simulator.generate import SimulationConfig, generate
    from securebank.registry import Approval, ModelRegistry
    from securebank.settings import get_settings
    from tests.rules.test_challenger import _model

    generate(SimulationConfig(transactions=6000, seed=3), tmp_path / "data")
    _model(tmp_path, "m", 5, "0.01")
    from securebank.model_artifact import pack_model_dir

    archive = pack_model_dir(tmp_path / "m" / "model", tmp_path / "model.tar.gz")
    assert run("list").returncode == 0  # starts nothing but creates the rule tables
    config = get_settings()
    aws = AwsClients(region="us-east-1", endpoint_url=moto_endpoint, local=True)
    from securebank.local import stack as local_stack

    local_stack.provision(aws, config.names)
    s3 = aws.client("s3")
    s3.upload_file(str(archive), config.names.artifacts_bucket, "models/m.tar.gz")
    registry = ModelRegistry(aws.client("sagemaker"), config.names.model_package_group)
    url = f"s3://{config.names.artifacts_bucket}/models/m.tar.gz"
    for approval in (Approval.APPROVED, Approval.APPROVED):
        registry.register(
            model_data_url=url,
            image_uri="img",
            evaluation_uri=url,
            metadata={},
            approval=approval,
        )
    (tmp_path / "r.yaml").write_text(GOOD)
    assert run("propose", "r.yaml", "--by", "alice").returncode == 0
    assert run("approve", "1", "--by", "bob", "--reason", "r").returncode == 0
    # Provisioned above. `local_stack.provision` lists streams without paginating (moto answers
    # 10 a page, and the session's server holds more), so provisioning again would try to create
    # the existing stream: the CLI's own provisioning is skipped here.
    monkeypatch.setattr(local_stack, "provision", lambda aws, names: [])
    args = ["--model", "2", "--champion", "1", "--rules", "1", "--data", "data"]
    result = run(*args, "--from", "2026-07-10", "--to", "2026-07-20", group=("replay",))
    assert result.returncode == 0, result.stderr
    assert "decisions changed 0" in result.stdout  # the same model on both sides
    record = tmp_path / "home" / "replays" / "model-2.json"
    document = json.loads(record.read_text())
    assert document["rules_version"] == "1" and document["transactions"] > 0
    assert (
        "Challenger replay" in (tmp_path / document["report"]).read_text()
        or Path(document["report"]).read_text()
    )
    assert "--from must be before --to" in one_error(
        run(*args, "--from", "2026-07-20", "--to", "2026-07-10", group=("replay",))
    )
