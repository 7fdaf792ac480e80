"""`securebank model deploy/promote/rollback` locally: the state lives in the local SageMaker API.

The commands run in process (the CLI's own entry point) against the local AWS; nothing is kept in
SECUREBANK_HOME but the model server's copies of the models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from securebank.cli.app import main
from securebank.inference.sagemaker_endpoint import read_rollout
from securebank.model_artifact import pack_model_dir
from securebank.registry import Approval, ModelRegistry
from securebank.settings import get_settings
from tests.builders import make_model_dir


@pytest.fixture
def fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_deploy_canary_promote_rollback_read_back_from_sagemaker(
    aws, local_aws, tmp_path, monkeypatch, capsys, fresh_settings
):
    names = aws.names
    s3, sm = aws.client("s3"), aws.client("sagemaker")
    registry = ModelRegistry(sm, names.model_package_group)
    for seed in (1, 2):
        archive = pack_model_dir(make_model_dir(tmp_path / f"m{seed}", seed)[0], tmp_path / "a.tgz")
        key = f"models/{seed}/model.tar.gz"
        s3.upload_file(str(archive), names.artifacts_bucket, key)
        version = registry.register(
            model_data_url=f"s3://{names.artifacts_bucket}/{key}",
            image_uri="example/securebank:1",
            evaluation_uri="s3://b/evaluation.json",
            metadata={},
        )
        registry.set_status(version.version, Approval.APPROVED, "test")
    home = tmp_path / "home"
    for key, value in {
        "SECUREBANK_HOME": str(home),
        "SECUREBANK_PREFIX": names.prefix,
        "SECUREBANK_ENVIRONMENT": names.environment,
        "SECUREBANK_TARGET": "local",
        **local_aws.environment(),
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("securebank.cli.console.console.width", 200)

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    def versions() -> list[tuple[str, float]]:
        config = read_rollout(sm, names.endpoint).state.config
        return [(v.model_version, v.weight) for v in config.variants]

    code, out, err = cli("model", "deploy", "1")
    assert code == 0, err
    assert "create_endpoint" in out
    assert versions() == [("1", 1.0)]
    assert sm.describe_endpoint(EndpointName=names.endpoint)["EndpointStatus"] == "InService"
    code, _, err = cli("model", "deploy", "2", "--canary", "20")
    assert code == 0, err
    assert versions() == [("1", 80.0), ("2", 20.0)]
    # What `endpoint serve` loads: the live config, with the server's local copies of the models.
    import numpy as np

    from securebank.features.definitions import FEATURE_NAMES
    from securebank.inference.endpoint import Endpoint
    from securebank.inference.local_endpoint import read_live, server_config

    served = Endpoint()
    settings = get_settings()
    served.apply(server_config(aws, settings, read_live(aws, settings).state.config))
    row = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
    assert served.score(row, served.pick("v2")).model_version == "2"
    code, out, _ = cli("endpoint", "status")
    assert code == 0 and "InService" in out and "v2" in out
    assert cli("model", "promote")[0] == 0
    assert versions() == [("2", 1.0)]
    assert cli("model", "rollback")[0] == 0
    assert versions() == [("1", 1.0)]
    code, _, err = cli("model", "rollback")
    assert code == 1
    assert err.strip() == "error: no previous configuration to roll back to"
    # No rollout file: the state is SageMaker's; only the model copies are local.
    kept = sorted(str(p.relative_to(home).parent) for p in home.rglob("*") if p.is_file())
    assert kept == [str(Path("endpoint/models/v1")), str(Path("endpoint/models/v2"))]
