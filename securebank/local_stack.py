"""The local AWS: moto's server mode on 127.0.0.1, and the platform's resources created in it.

`start` runs `moto.server` as a detached process and records its endpoint in `HOME/stack.json`, so
later commands find it; `provision` creates every resource the platform uses, with the names of
`ResourceNames` (the same rule terraform/ uses). State lives in the server's memory: `stop` ends
it and everything in it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from securebank import background
from securebank.background import ServerInfo
from securebank.resources import ResourceNames

STATE_FILE = "stack.json"
LOG_FILE = "stack.log"
HEALTH_PATH = "/moto-api/data.json"


class StackError(RuntimeError):
    """The local stack could not be started or reached."""


def read_info(home: Path) -> ServerInfo | None:
    """The recorded stack, if its server still answers."""
    return background.read(home / STATE_FILE, HEALTH_PATH)


def start(home: Path, port: int | None = None) -> ServerInfo:
    """Start the local AWS unless it already runs; return where it listens."""
    running = read_info(home)
    if running is not None:
        return running
    port = port or background.free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    try:
        return background.start(command, port, home / STATE_FILE, home / LOG_FILE, HEALTH_PATH)
    except background.ServerError as error:
        raise StackError(f"the local AWS: {error}") from error


def stop(home: Path) -> bool:
    """Stop the local AWS; False when none was running."""
    return background.stop(home / STATE_FILE)


def provision(s3: Any, sagemaker: Any, names: ResourceNames) -> list[str]:
    """Create every resource the platform uses, if missing; return what was created."""
    created: list[str] = []
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in names.buckets():
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
            created.append(f"s3://{bucket}")
    groups = sagemaker.list_model_package_groups(NameContains=names.model_package_group)
    if not any(
        g["ModelPackageGroupName"] == names.model_package_group
        for g in groups["ModelPackageGroupSummaryList"]
    ):
        sagemaker.create_model_package_group(
            ModelPackageGroupName=names.model_package_group,
            ModelPackageGroupDescription="SecureBank fraud model versions",
        )
        created.append(f"model package group {names.model_package_group}")
    return created
