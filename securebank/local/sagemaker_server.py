"""The local SageMaker control plane: moto's, with the one answer real clients need fixed.

moto 5.2.5's DescribeEndpoint returns the endpoint's DataCaptureConfig as it was given to
CreateEndpointConfig; AWS returns a DataCaptureConfigSummary (EnableCapture, CaptureStatus,
CurrentSamplingPercentage, DestinationS3Uri), and sagemaker-core's `Endpoint.get()` validates
those fields and fails without them. `patch_moto` makes moto answer as AWS does; `main` runs
moto's server with it (`python -m securebank.local.sagemaker_server -H 127.0.0.1 -p PORT`, the same
arguments as `python -m moto.server`). Remove it once moto answers the summary itself.
"""

from __future__ import annotations

from typing import Any


def capture_summary(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """A DataCaptureConfig as DescribeEndpoint's DataCaptureConfigSummary."""
    if not config or "CaptureStatus" in config:
        return config
    enabled = bool(config.get("EnableCapture", False))
    summary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(config.get("InitialSamplingPercentage", 0)),
        "DestinationS3Uri": config.get("DestinationS3Uri", ""),
    }
    if config.get("KmsKeyId"):
        summary["KmsKeyId"] = config["KmsKeyId"]
    return summary


def patch_moto() -> None:
    """Make moto's DescribeEndpoint carry a DataCaptureConfigSummary (idempotent)."""
    from moto.sagemaker.models import FakeEndpoint

    if getattr(FakeEndpoint, "_securebank_capture_summary", False):
        return
    original = FakeEndpoint.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.data_capture_config = capture_summary(self.data_capture_config)

    FakeEndpoint.__init__ = __init__  # type: ignore[method-assign]
    FakeEndpoint._securebank_capture_summary = True  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    patch_moto()
    moto_main(argv)


if __name__ == "__main__":
    main()
