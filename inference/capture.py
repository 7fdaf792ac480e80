"""Data capture: shadow scores next to production scores, as JSON lines per day.

The same records SageMaker's data capture keeps for a shadow variant: the inference id, which
variant answered and its scores, and the shadow's scores. Written after the response is sent.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class CaptureWriter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def __call__(self, record: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        line = json.dumps({"captured_at": now.isoformat(), **record}) + "\n"
        path = self.folder / f"{now.date().isoformat()}.jsonl"
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with path.open("a") as handle:
                handle.write(line)

    def read(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for path in sorted(self.folder.glob("*.jsonl")):
            records += [json.loads(line) for line in path.read_text().splitlines() if line]
        return records
