"""The container image's commands: `serve` and `train` (SageMaker's bring-your-own-container).

SageMaker starts a serving container as `IMAGE serve` with the model unpacked in
`/opt/ml/model`, and a training container as `IMAGE train`. Processing steps run
`python -m securebank.training.MODULE` directly. This entry point (the `securebank-container`
script) wires serving and training together, so neither `inference` nor `training` imports the
other.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from securebank.inference.container import MODEL_DIR, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="securebank-container")
    parser.add_argument("command", choices=["serve", "train"])
    parser.add_argument("--host", default=os.environ.get("SAGEMAKER_BIND_TO_HOST", "0.0.0.0"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", 8080))
    )
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    args = parser.parse_args(argv)
    if args.command == "train":
        from securebank.training.train import main as train

        train()
        return 0
    serve(
        args.host,
        args.port,
        args.model_dir,
        os.environ.get("SECUREBANK_ENDPOINT_NAME", "securebank"),
        os.environ.get("SECUREBANK_MODEL_VERSION", "unknown"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
