"""`securebank rules ...` as a user meets it (the CLI's `main`, in process: a subprocess per call
costs seconds) against the local AWS over HTTP."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

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
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("SECUREBANK_PREFIX", "sbcli")
    monkeypatch.setenv("SECUREBANK_ENVIRONMENT", f"r{next(_counter)}")
    monkeypatch.setenv("SECUREBANK_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()

    def securebank(*args: str) -> Result:
        capsys.readouterr()
        code = main(["rules", *args])
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
