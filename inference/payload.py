"""Request payloads of the serving contract: CSV rows or JSON records → a feature matrix.

`text/csv`: one row per line, feature values in the manifest's order (empty = missing).
`application/json`: `{"instances": [{feature: value, ...}, ...]}` or a list of such records
(missing or null = missing); unknown feature names are an error, so typos are not scored as NaN.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's real-time limit
MAX_ROWS = 10_000
CSV = "text/csv"
_NAN = float("nan")
JSON = "application/json"


class PayloadError(ValueError):
    """A request the server refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def parse_payload(
    body: bytes, content_type: str | None, feature_names: Sequence[str]
) -> np.ndarray:
    if len(body) > MAX_PAYLOAD_BYTES:
        raise PayloadError(413, f"payload of {len(body)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    kind = media_type(content_type)
    if kind == CSV:
        return _parse_csv(body, len(feature_names))
    if kind == JSON:
        return _parse_json(body, feature_names)
    raise PayloadError(415, f"unsupported content type {kind or '(none)'!r}; use {CSV} or {JSON}")


def _parse_csv(body: bytes, width: int) -> np.ndarray:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(400, "CSV payload is not UTF-8") from error
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise PayloadError(400, "empty payload: no rows")
    if len(lines) > MAX_ROWS:
        raise PayloadError(413, f"{len(lines)} rows exceed the limit of {MAX_ROWS}")
    cells = ",".join(lines).split(",")
    if len(cells) == len(lines) * width:
        try:
            values = [float(c) if c else _NAN for c in cells]
            return np.array(values, dtype=np.float32).reshape(len(lines), width)
        except ValueError:
            pass
    return _parse_csv_rows(lines, width)


def _parse_csv_rows(lines: list[str], width: int) -> np.ndarray:
    """Row by row: slower, but names the row that is wrong."""
    x = np.empty((len(lines), width), dtype=np.float32)
    for i, line in enumerate(lines):
        cells = line.split(",")
        if len(cells) != width:
            raise PayloadError(400, f"row {i + 1} has {len(cells)} values, the model takes {width}")
        try:
            x[i] = [float(c) if c.strip() else np.nan for c in cells]
        except ValueError as error:
            raise PayloadError(400, f"row {i + 1}: a value is not a number") from error
    return x


def _parse_json(body: bytes, feature_names: Sequence[str]) -> np.ndarray:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(400, f"malformed JSON: {error}") from error
    records = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(records, list) or not records:
        raise PayloadError(400, 'expected {"instances": [records]} or a non-empty list of records')
    if len(records) > MAX_ROWS:
        raise PayloadError(413, f"{len(records)} rows exceed the limit of {MAX_ROWS}")
    index = {name: i for i, name in enumerate(feature_names)}
    x = np.full((len(records), len(feature_names)), np.nan, dtype=np.float32)
    for row, record in enumerate(records):
        if not isinstance(record, dict):
            raise PayloadError(400, f"record {row + 1} is not an object")
        for name, value in record.items():
            column = index.get(name)
            if column is None:
                raise PayloadError(400, f"record {row + 1}: unknown feature {name!r}")
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PayloadError(400, f"record {row + 1}: {name} must be a number")
            x[row, column] = value
    return x
