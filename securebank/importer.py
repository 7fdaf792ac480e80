"""Bring your own data: a bank's transaction and label files → the platform's dataset layout.

A mapping file (JSON or YAML) names, for each contract field, the source column that holds it
(`columns`) or a constant (`constants`), and likewise for labels (`label_columns`). Every row is
validated with the transaction contract; rejected rows go to `rejects.jsonl` with their row
number and field-level reasons (never their values, which may hold a card number).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from securebank.contract import (
    LABEL_SCHEMA,
    TRANSACTION_SCHEMA,
    Rejection,
    parse_label,
    parse_transaction,
)
from securebank.dataset import write_dataset

TRANSACTION_FIELDS = tuple(TRANSACTION_SCHEMA.names)
LABEL_FIELDS = ("transaction_id", "is_fraud", "reported_at")
OPTIONAL_FIELDS = frozenset({"merchant_lat", "merchant_lon", "device_id"})
REJECTS_FILE = "rejects.jsonl"
#: How CSV files spell a label's is_fraud.
_BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


class MappingError(ValueError):
    """The mapping file is malformed or names columns the source files lack."""


@dataclass(frozen=True)
class ColumnMapping:
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    label_columns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ColumnMapping:
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            document = yaml.safe_load(text)
        else:
            document = json.loads(text)
        if not isinstance(document, dict):
            raise MappingError(f"{path}: the mapping must be an object")
        unknown = set(document) - {"columns", "constants", "label_columns"}
        if unknown:
            raise MappingError(f"{path}: unknown keys {sorted(unknown)}")
        mapping = cls(
            columns=dict(document.get("columns", {})),
            constants=dict(document.get("constants", {})),
            label_columns=dict(document.get("label_columns", {})),
        )
        mapping.check()
        return mapping

    def check(self) -> None:
        for name in set(self.columns) | set(self.constants):
            if name not in TRANSACTION_FIELDS:
                raise MappingError(f"{name!r} is not a transaction field")
        for name in self.label_columns:
            if name not in LABEL_FIELDS:
                raise MappingError(f"{name!r} is not a label field")
        required = set(TRANSACTION_FIELDS) - OPTIONAL_FIELDS
        missing = required - set(self.columns) - set(self.constants)
        if missing:
            raise MappingError(f"no column or constant for {', '.join(sorted(missing))}")

    def column_for(self, name: str) -> str:
        return self.columns.get(name, name)


@dataclass
class ImportSummary:
    rows: int
    accepted: int
    rejected: int
    labels: int
    labels_rejected: int
    rejects_file: Path | None


def read_table(path: Path) -> pa.Table:
    """CSV (every column read as text, so amounts stay exact) or Parquet."""
    if path.suffix == ".parquet" or path.is_dir():
        return pq.read_table(path)
    with path.open("rb") as handle:
        header = handle.readline().decode().strip().split(",")
    types = {name: pa.string() for name in header}
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))


def _records(
    table: pa.Table, columns: dict[str, str], constants: dict[str, Any], fields: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each row as a record of contract fields (mapped columns, constants, absent optionals)."""
    missing = {c for c in columns.values() if c not in table.column_names}
    if missing:
        raise MappingError(f"source has no column {sorted(missing)[0]!r}")
    values = {
        name: table[columns.get(name, name)].to_pylist()
        for name in fields
        if name not in constants and columns.get(name, name) in table.column_names
    }
    for row in range(table.num_rows):
        record = {name: constants.get(name) for name in fields if name in OPTIONAL_FIELDS}
        record |= {name: column[row] for name, column in values.items()}
        record |= constants
        for name in OPTIONAL_FIELDS & record.keys():
            if record[name] == "":
                record[name] = None
        yield row, record


def import_dataset(
    transactions_file: Path,
    labels_file: Path | None,
    mapping: ColumnMapping,
    out: Path,
    now: datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    now = now or datetime.now(UTC)
    table = read_table(transactions_file)
    accepted: list[dict[str, Any]] = []
    out.mkdir(parents=True, exist_ok=True)
    rejects_path = out / REJECTS_FILE
    rejected = 0
    with rejects_path.open("w") as rejects:

        def reject(kind: str, row: int, why: Rejection) -> None:
            rejects.write(json.dumps({"file": kind, "row": row + 1, "reasons": why.as_dict()}))
            rejects.write("\n")

        for row, record in _records(table, mapping.columns, mapping.constants, TRANSACTION_FIELDS):
            parsed = parse_transaction(record, now=now)
            if isinstance(parsed, Rejection):
                reject("transactions", row, parsed)
                rejected += 1
            else:
                accepted.append(parsed.model_dump(mode="python"))
            if on_progress is not None and row % 10_000 == 0:
                on_progress(row)
        labels: list[dict[str, Any]] = []
        labels_rejected = 0
        known = {r["transaction_id"] for r in accepted}
        if labels_file is not None:
            label_table = read_table(labels_file)
            for row, record in _records(label_table, mapping.label_columns, {}, LABEL_FIELDS):
                flag = record.get("is_fraud")
                if isinstance(flag, str) and flag.strip().lower() in _BOOLEAN_TEXT:
                    record["is_fraud"] = _BOOLEAN_TEXT[flag.strip().lower()]
                parsed_label = parse_label(record)
                if isinstance(parsed_label, Rejection):
                    reject("labels", row, parsed_label)
                    labels_rejected += 1
                elif parsed_label.transaction_id in known:
                    labels.append({**parsed_label.model_dump(), "fraud_scenario": None})
    accepted.sort(key=lambda r: (r["event_time"], r["transaction_id"]))
    transactions = pa.Table.from_pylist(
        [{k: r[k] for k in TRANSACTION_FIELDS} for r in accepted], schema=TRANSACTION_SCHEMA
    )
    label_table_out = pa.Table.from_pylist(labels, schema=LABEL_SCHEMA)
    manifest = {
        "generator": "securebank.importer",
        "source": str(transactions_file),
        "rows": table.num_rows,
        "accepted": len(accepted),
        "rejected": rejected,
    }
    write_dataset(out, transactions, label_table_out, manifest)
    if rejected == 0 and labels_rejected == 0:
        rejects_path.unlink()
    return ImportSummary(
        rows=table.num_rows,
        accepted=len(accepted),
        rejected=rejected,
        labels=len(labels),
        labels_rejected=labels_rejected,
        rejects_file=rejects_path if rejects_path.exists() else None,
    )
