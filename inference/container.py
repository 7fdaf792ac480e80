"""The serving container: the model server over the model SageMaker unpacks in `/opt/ml/model`.

The image's command line (`IMAGE serve`, `IMAGE train`) is `securebank.image`; this module only
serves, so `inference` never imports `training`.
"""

from __future__ import annotations

from pathlib import Path

from securebank.graceful import serve_until_terminated
from securebank.inference.endpoint import Endpoint, EndpointConfig, VariantSpec
from securebank.inference.server import ModelServer

MODEL_DIR = Path("/opt/ml/model")


def serve(host: str, port: int, model_dir: Path, endpoint_name: str, version: str) -> None:
    endpoint = Endpoint()
    spec = VariantSpec(name="AllTraffic", model_version=version, model_path=str(model_dir))
    endpoint.apply(EndpointConfig(name=endpoint_name, variants=(spec,)))
    server = ModelServer((host, port), endpoint)
    print(f"serving model version {version} on {server.url}", flush=True)
    serve_until_terminated(server)  # SageMaker stops a container with SIGTERM: drain first
