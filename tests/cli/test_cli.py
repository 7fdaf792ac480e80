"""The command line as a user meets it: a real subprocess, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION


def securebank(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "securebank.cli.app", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize(
    "args",
    [
        ("data", "generate", "--transactions", "12"),
        ("data", "generate", "--bogus"),
        ("data", "generate", "--start", "2026-13-01"),
        ("data", "generate", "--start", "2099-01-01"),
        ("features", "build", "--data", "no-such-folder"),
        ("no-such-command",),
        ("model", "approve", "0"),
        ("model", "deploy", "1", "--canary", "10", "--shadow", "--target", "mars"),
        ("stream", "send", "--data", "x"),
        ("stream", "run"),
        ("analytics", "query"),
        ("report", "audit", "--from", "yesterday", "--to", "today"),
        ("load", "--rps", "0", "--duration", "1", "--key", "k", "--data", "x"),
        ("api", "serve", "--port", "99999"),
        ("data", "import", "--transactions", "nope.csv", "--map", "m.json", "--out", "o"),
    ],
)
def test_bad_arguments_get_one_clear_line_and_no_traceback(args, tmp_path):
    result = securebank(*args, cwd=tmp_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout


def test_generate_then_build_features(tmp_path):
    generated = securebank(
        "data", "generate", "--transactions", "5000", "--days", "20", "--out", "ds", cwd=tmp_path
    )
    assert generated.returncode == 0, generated.stderr
    assert "transactions" in generated.stdout and "5,000" in generated.stdout
    built = securebank("features", "build", "--data", "ds", "--out", "f.parquet", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert FEATURE_SET_VERSION in built.stdout
    features = pd.read_parquet(tmp_path / "f.parquet")
    assert len(features) == 5_000
    assert list(features.columns[-len(FEATURE_NAMES) :]) == list(FEATURE_NAMES)


def test_features_list_shows_every_feature(tmp_path):
    result = securebank("features", "list", cwd=tmp_path)
    assert result.returncode == 0
    for name in FEATURE_NAMES:
        assert name in result.stdout
