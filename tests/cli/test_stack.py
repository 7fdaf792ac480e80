"""The local AWS as a user meets it: `stack up/status/down` and commands that use it."""

from __future__ import annotations

import json

from tests.cli.test_cli import securebank


def test_stack_lifecycle_and_registry_commands(tmp_path):
    up = securebank("stack", "up", cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        info = json.loads((tmp_path / ".securebank" / "stack.json").read_text())
        assert f"http://127.0.0.1:{info['port']}" in up.stdout
        status = securebank("stack", "status", cwd=tmp_path)
        assert status.returncode == 0
        assert "securebank-local-lake" in status.stdout
        assert "securebank-local-fraud-model: 0 versions" in status.stdout
        listed = securebank("model", "list", "--json", cwd=tmp_path)
        assert listed.returncode == 0 and json.loads(listed.stdout) == []
        missing = securebank("model", "approve", "5", cwd=tmp_path)
        assert missing.returncode == 1
        assert missing.stderr.strip() == (
            "error: model version 5 does not exist in securebank-local-fraud-model"
        )
        bad = securebank("pipeline", "run", "--param", "MaxDepth", cwd=tmp_path)
        assert bad.returncode == 1
        assert bad.stderr.strip() == "error: --param takes NAME=VALUE, got 'MaxDepth'"
    finally:
        down = securebank("stack", "down", cwd=tmp_path)
    assert down.returncode == 0 and "stopped" in down.stdout
    after = securebank("stack", "status", cwd=tmp_path)
    assert after.returncode == 1 and "not running" in after.stdout
