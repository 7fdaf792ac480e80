"""A trained model, the local AWS with the stream's resources, and the model server."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from securebank.aws import AwsClients
from securebank.settings import Settings


@dataclass
class Trained:
    data: Path
    model_dir: Path
    archive: Path
    stream_from: datetime


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    from securebank.data.simulator.generate import SimulationConfig, generate
    from securebank.model_artifact import pack_model_dir
    from securebank.training import build_features, train

    root = tmp_path_factory.mktemp("trained")
    data = root / "data"
    generate(SimulationConfig(transactions=40_000, seed=5, fraud_rate=0.01), data)
    work = root / "work"
    (work / "input").mkdir(parents=True)
    shutil.copytree(data / "transactions", work / "input" / "transactions")
    shutil.copytree(data / "labels", work / "input" / "labels")
    build_features.main(["--root", str(work)])
    output = work / "output"
    train.main(
        [],
        {
            "SM_CHANNEL_TRAIN": str(output / "train"),
            "SM_CHANNEL_VALIDATION": str(output / "validation"),
            "SM_MODEL_DIR": str(root / "model"),
            "SM_HPS": "{}",
        },
    )
    plan = json.loads((output / "train" / "plan.json").read_text())
    archive = pack_model_dir(root / "model", root / "model.tar.gz")
    start = datetime.fromisoformat(plan["test_start"]).replace(tzinfo=UTC)
    return Trained(data=data, model_dir=root / "model", archive=archive, stream_from=start)


@pytest.fixture
def stream_env(aws, trained, tmp_path):
    """Settings and clients for the scorer, the model uploaded, and the history bootstrapped."""
    from securebank.features.replay import replay
    from securebank.scorer.state_store import batch_put, bootstrap_items
    from tests.scorer.helpers import history_before

    s3 = aws.client("s3")
    key = "models/test/model.tar.gz"
    s3.upload_file(str(trained.archive), aws.names.artifacts_bucket, key)
    settings = Settings(
        prefix=aws.names.prefix,
        environment=aws.names.environment,
        home=tmp_path / "home",
        fallback_model_uri=f"s3://{aws.names.artifacts_bucket}/{key}",
        latency_budget_ms=2000,
    )
    transactions, labels = history_before(trained)
    state = replay(transactions, labels)
    batch_put(
        aws.client("dynamodb"),
        aws.names.feature_table,
        bootstrap_items(state.cards, state.merchants),
    )
    return settings, aws


@pytest.fixture
def model_server(trained):
    from securebank.inference.endpoint import Endpoint, VariantSpec
    from securebank.inference.server import ModelServer, start_in_thread

    endpoint = Endpoint()
    server = ModelServer(("127.0.0.1", 0), endpoint)
    start_in_thread(server)
    yield server, endpoint, VariantSpec("v1", "1", str(trained.model_dir))
    server.shutdown()
    server.server_close()


def scorer_clients(aws: AwsClients, runtime_url: str | None) -> AwsClients:
    return aws.with_runtime(runtime_url)
