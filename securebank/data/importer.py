"""Bring your own data: a bank's transaction and label files → the platform's dataset layout.

A mapping file (JSON or YAML) names, for each contract field, the source column that holds it
(`columns`) or a constant (`constants`), and likewise for labels (`label_columns`). Only
transaction id, event time, card, merchant and amount must be mapped; a missing currency is the
issuer currency, every other field is optional (see `securebank.contract`).

What the importer fixes before the contract sees a row, each counted in the summary:
- amounts written as binary float text (`85.64999999999999`) are rounded to the currency's
  exponent (`round`, the default); `round-all` also rounds a genuine extra digit (`12.345` USD),
  `reject` refuses both, as the contract does;
- naive timestamps are read in the `timezone` given (refused, with that advice, when none is);
- numbers where text is expected (`mcc: 5999` in YAML, integer ids in Parquet) become text, and an
  MCC that lost its leading zeros (`742`) gets them back.

Only fraud labels are kept: a "not fraud" label row is validated and counted (`labels_genuine`),
since a transaction without a fraud label is genuine to the features and the training targets.

Nothing vanishes: every refused row, malformed CSV line, repeated transaction id, refused label,
label of a refused row and orphaned label is one line of `rejects.jsonl` with its reason (never
its values, which may hold a card number) and is counted in `ImportSummary.reasons`.

The file is streamed in blocks (pyarrow's CSV streaming reader, or Parquet batches); accepted rows
are spilled per UTC day to Arrow files and their ids per hash bucket; each bucket then yields the
repeated ids (first row wins, anywhere in the file), and each day is written sorted as Parquet.
Memory follows the block size, the largest day and one bucket of ids, not the file size; the fraud
labels are held in memory (about 1 % of the rows), so the labels may come from the transactions
file itself (`--labels` naming the same file, `is_fraud` its fraud column).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from securebank.contract import (
    LABEL_SCHEMA,
    TRANSACTION_SCHEMA,
    FieldProblem,
    FraudLabel,
    Rejection,
    parse_label,
    parse_transaction,
)
from securebank.data.dataset import day_folder, labels_path, transactions_path
from securebank.data.spill import KeyedSpill
from securebank.reference import currency_exponent

TRANSACTION_FIELDS = tuple(TRANSACTION_SCHEMA.names)
LABEL_FIELDS = ("transaction_id", "is_fraud", "reported_at")
#: What a bank file must provide: everything else is optional or has a default.
REQUIRED_FIELDS = frozenset({"transaction_id", "event_time", "card_id", "merchant_id", "amount"})
_TEXT_FIELDS = frozenset(
    {"transaction_id", "card_id", "customer_id", "merchant_id", "mcc", "currency"}
    | {"merchant_country", "channel", "device_id", "status"}
)
REJECTS_FILE = "rejects.jsonl"
_ROW_NUMBER = re.compile(r"row \d+")
_STAGING = ".import-staging"
#: How files spell a label's is_fraud.
_BOOLEAN_TEXT = {
    "true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
    "t": True, "f": False, "y": True, "n": False, "1.0": True, "0.0": False,
}  # fmt: skip
#: Largest relative gap between an amount's text and its rounding that binary float text explains:
#: 2**-40 is thousands of times a double's rounding error, and far below one minor unit for any
#: amount under a billion units.
_FLOAT_NOISE = Decimal(2) ** -40
_DAY_MS = 86_400_000
_SPILL_SCHEMA = TRANSACTION_SCHEMA.append(pa.field("_row", pa.int64(), nullable=False))

AmountPolicy = Literal["round", "round-all", "reject"]
AMOUNT_POLICIES: tuple[str, ...] = ("round", "round-all", "reject")


class MappingError(ValueError):
    """The mapping file is malformed or names columns the source files lack."""


class ImportFailed(ValueError):
    """No row was accepted: nothing is written but the rejects file."""

    def __init__(self, message: str, summary: ImportSummary) -> None:
        super().__init__(message)
        self.summary = summary


def _as_text(value: Any) -> str | None:
    """A mapping constant or typed source value as the text the contract expects."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise MappingError(f"{value!r} is not a text value")
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class ColumnMapping:
    """Contract field → source column (`columns`) or value (`constants`); label field → column."""

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    label_columns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ColumnMapping:
        """Read JSON or YAML. YAML scalars are read as text, so `mcc: 0742` stays `0742`."""
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            try:  # BaseLoader resolves no tags: every scalar is text
                document = yaml.load(text, Loader=yaml.BaseLoader)
            except yaml.YAMLError as error:
                raise MappingError(f"{path}: not valid YAML ({type(error).__name__})") from error
        else:
            try:
                document = json.loads(text)
            except ValueError as error:
                raise MappingError(f"{path}: not valid JSON: {error}") from error
        if not isinstance(document, dict):
            raise MappingError(f"{path}: the mapping must be an object")
        unknown = set(document) - {"columns", "constants", "label_columns"}
        if unknown:
            raise MappingError(f"{path}: unknown keys {sorted(unknown)}")
        sections = {}
        for key in ("columns", "constants", "label_columns"):
            section = document.get(key) or {}
            if not isinstance(section, dict):
                raise MappingError(f"{path}: {key} must be an object")
            sections[key] = section
        constants = {}
        for name, value in sections["constants"].items():
            value = _as_text(value)
            constants[name] = None if value in (None, "", "null", "~") else value
        mapping = cls(
            columns={k: str(_as_text(v)) for k, v in sections["columns"].items()},
            constants=constants,
            label_columns={k: str(_as_text(v)) for k, v in sections["label_columns"].items()},
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
        both = set(self.columns) & set(self.constants)
        if both:
            raise MappingError(f"{sorted(both)[0]!r} has both a column and a constant")
        missing = REQUIRED_FIELDS - set(self.columns) - set(self.constants)
        if missing:
            raise MappingError(f"no column or constant for {', '.join(sorted(missing))}")

    def column_for(self, name: str) -> str:
        return self.columns.get(name, name)


@dataclass(frozen=True)
class ImportOptions:
    """How to read what a bank file leaves implicit."""

    #: `round`: round binary float text to the currency's exponent; `round-all`: round any extra
    #: decimals (half to even); `reject`: refuse both.
    amounts: AmountPolicy = "round"
    #: The zone of naive timestamps; None refuses them.
    timezone: tzinfo | None = None
    #: `strptime` format of timestamps that are not ISO 8601 (e.g. `%d/%m/%Y %H:%M`), or
    #: `epoch-s` / `epoch-ms` for seconds or milliseconds since 1970 (UTC).
    time_format: str | None = None
    #: Amounts written `1.234,56` (comma before the decimals, dots or spaces between thousands).
    decimal_comma: bool = False
    #: Issuer currency: the currency of rows whose file names none.
    currency: str = "USD"
    #: Issuer country: recorded in the manifest for the features.
    country: str = "US"
    #: When the labels carry no reported_at: it is the transaction's time plus this delay.
    label_delay: timedelta | None = None
    #: CSV block size: a block's rows are Python objects while validated (~60x its bytes).
    block_bytes: int = 1 << 20
    #: CSV field separator (`;` in many European exports) and text encoding (e.g. latin1).
    delimiter: str = ","
    encoding: str = "utf8"
    #: Processes validating blocks (the contract's per-row checks are the hot loop).
    workers: int = 1
    #: The contract's clock (events after now + skew are refused); default: the real clock.
    now: datetime | None = None


@dataclass
class ImportSummary:
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    malformed: int = 0
    amounts_rounded: int = 0
    times_localised: int = 0
    days: int = 0
    labels_read: int = 0
    #: label rows saying "not fraud": validated and counted, not stored (features and training
    #: read fraud labels only), so a label file as long as the transactions costs no memory
    labels_genuine: int = 0
    labels: int = 0
    labels_rejected: int = 0
    labels_orphaned: int = 0
    labels_of_refused_rows: int = 0
    #: "file: field: reason" (row numbers as "row N") → how many rejects.jsonl lines say so.
    reasons: Counter[str] = field(default_factory=Counter)
    rejects_file: Path | None = None


@dataclass
class _PendingLabel:
    row: int
    label: FraudLabel
    status: Literal["orphaned", "refused", "accepted", "early"] = "orphaned"
    transaction_row: int = 0


class _Rejects:
    """rejects.jsonl: one line per record that did not make it, with why; counts every reason."""

    def __init__(self, path: Path, summary: ImportSummary) -> None:
        self.path = path
        self.summary = summary
        self.handle = path.open("w")

    def add(self, kind: str, position: dict[str, int], reasons: dict[str, str]) -> None:
        self.handle.write(json.dumps({"file": kind, **position, "reasons": reasons}) + "\n")
        for name, reason in reasons.items():  # counted without row numbers: a bounded set
            self.summary.reasons[f"{kind}: {name}: {_ROW_NUMBER.sub('row N', reason)}"] += 1

    def close(self) -> None:
        self.handle.close()


# ---------------------------------------------------------------------------------------------
# Reading the source in batches


def _csv_header(path: Path, options: ImportOptions) -> list[str]:
    encoding = "utf-8-sig" if options.encoding in ("utf8", "utf-8") else options.encoding
    with path.open(newline="", encoding=encoding) as handle:
        try:
            return next(csv.reader(handle, delimiter=options.delimiter))
        except StopIteration:
            return []


def _batches(
    path: Path,
    wanted: list[str],
    options: ImportOptions,
    malformed: list[tuple[int | None, str]],
) -> Iterator[pa.RecordBatch]:
    """The `wanted` columns of a CSV (every column as text, so amounts stay exact) or Parquet.

    CSV lines with the wrong number of fields are skipped and listed in `malformed`.
    """
    if path.suffix == ".parquet" or path.is_dir():
        dataset = ds.dataset(path, format="parquet")
        missing = [c for c in wanted if c not in dataset.schema.names]
        if missing:
            raise MappingError(f"{path} has no column {missing[0]!r}")
        batch_size = max(1024, options.block_bytes // 64)
        yield from dataset.to_batches(columns=wanted, batch_size=batch_size)
        return
    header = _csv_header(path, options)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise MappingError(f"{path} has no column {missing[0]!r}")

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(
            (row.number, f"{row.actual_columns} fields where the header has {row.expected_columns}")
        )
        return "skip"

    reader = pacsv.open_csv(
        path,
        # single-threaded parsing: the invalid-row handler then knows line numbers
        read_options=pacsv.ReadOptions(
            block_size=options.block_bytes, encoding=options.encoding, use_threads=False
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=options.delimiter, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            include_columns=wanted,
            strings_can_be_null=False,
        ),
    )
    yield from reader


# ---------------------------------------------------------------------------------------------
# Normalising one row before the contract sees it


_EPOCH_UNITS = {"epoch-s": 1, "epoch-ms": 1_000}


def normalise_amount(
    value: Any, currency: Any, policy: AmountPolicy, decimal_comma: bool = False
) -> tuple[Any, bool]:
    """(the amount for the contract, whether it was rounded). Unparseable input is left as is.

    With `decimal_comma`, text is read the European way: `1.234,56` is 1234.56.
    """
    if decimal_comma and isinstance(value, str):
        value = value.replace(".", "").replace(" ", "").replace(",", ".")
    if isinstance(value, float):
        value = repr(value)
    elif isinstance(value, int):
        value = str(value)
    if policy == "reject" or not isinstance(currency, str):
        return value, False
    try:
        amount = Decimal(value) if isinstance(value, str) else value
    except InvalidOperation:
        return value, False
    if not isinstance(amount, Decimal) or not amount.is_finite():
        return value, False
    try:
        rounded = amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)), ROUND_HALF_EVEN)
    except InvalidOperation:  # too many digits to round: the contract refuses it with a reason
        return value, False
    if rounded == amount:
        return value, False
    if policy == "round" and abs(rounded - amount) > abs(amount) * _FLOAT_NOISE:
        return value, False  # a genuine extra digit: the contract says why it is refused
    return rounded, True


def _to_time(value: Any, options: ImportOptions) -> tuple[Any, bool, str | None]:
    """(time for the contract, whether a naive time was localised, why it is refused or None)."""
    if options.time_format in _EPOCH_UNITS and not isinstance(value, datetime):
        try:  # seconds or milliseconds since 1970-01-01 UTC: never naive
            seconds = float(value) / _EPOCH_UNITS[options.time_format]
            return datetime.fromtimestamp(seconds, UTC), False, None
        except (TypeError, ValueError, OverflowError, OSError):
            return value, False, f"not a time in {options.time_format}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value, False, _A_NUMBER
    if isinstance(value, str):
        try:
            if options.time_format:
                value = datetime.strptime(value, options.time_format)
            else:
                value = datetime.fromisoformat(value)
        except ValueError:
            if value.replace(".", "", 1).isdigit():
                return value, False, _A_NUMBER  # the contract would read it as epoch: never guess
            if options.time_format:
                return value, False, f"does not match --time-format {options.time_format}"
            return value, False, None  # the contract's own message
    if isinstance(value, datetime) and value.tzinfo is None:
        if options.timezone is None:
            return value, False, _NO_ZONE
        return value.replace(tzinfo=options.timezone), True, None
    return value, False, None


_A_NUMBER = "a number, not a time: pass --time-format epoch-s or epoch-ms"
_NO_ZONE = "timestamp has no time zone; pass --timezone (e.g. UTC)"


def _clean(pairs: Iterable[tuple[str, Any]], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """`base` plus the (field, value) pairs: blank values are absent (optional fields take their
    default), surrounding spaces go, numbers become text, a short MCC gets its leading zeros."""
    record = dict(base) if base else {}
    for name, value in pairs:
        if type(value) is str:
            if not value or value[0].isspace() or value[-1].isspace():
                value = value.strip()
                if not value:
                    continue
        elif value is None:
            continue
        elif (
            name in _TEXT_FIELDS and isinstance(value, int | float) and not isinstance(value, bool)
        ):
            value = _as_text(value)
        record[name] = value
    mcc = record.get("mcc")
    if isinstance(mcc, str) and len(mcc) < 4 and mcc.isdigit():
        record["mcc"] = mcc.zfill(4)
    return record


def _parse_flag(value: Any) -> Any:
    if isinstance(value, str):
        return _BOOLEAN_TEXT.get(value.strip().lower(), value)
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


# ---------------------------------------------------------------------------------------------
# Spilling accepted rows per day, then writing each day sorted


#: Id-hash buckets of the de-duplication: memory holds one bucket's ids (1/64 of the file).
_ID_BUCKETS = 64
_ID_SCHEMA = pa.schema([("transaction_id", pa.string()), ("_row", pa.int64())])


class _Spill:
    """Accepted rows by UTC day, and their ids by hash bucket to find repeats across the file."""

    def __init__(self, folder: Path) -> None:
        self.days = KeyedSpill(folder / "days", _SPILL_SCHEMA)
        self.ids = KeyedSpill(folder / "ids", _ID_SCHEMA, max_open=_ID_BUCKETS)

    def write(self, batch: pa.RecordBatch) -> None:
        day = pc.cast(batch.column("event_time"), pa.int64()).to_numpy() // _DAY_MS
        self.days.write(batch, day)
        ids = batch.column("transaction_id")
        buckets = np.fromiter(
            (zlib.crc32(tid.encode()) % _ID_BUCKETS for tid in ids.to_pylist()),
            np.int64,
            batch.num_rows,
        )
        self.ids.write(
            pa.RecordBatch.from_arrays([ids, batch.column("_row")], schema=_ID_SCHEMA), buckets
        )

    def close(self) -> None:
        self.days.close()
        self.ids.close()


def _repeated_rows(spill: _Spill, rejects: _Rejects, summary: ImportSummary) -> np.ndarray:
    """Rows whose transaction id an earlier row already has (sorted); each is a reject line."""
    pairs: list[tuple[int, int]] = []
    for bucket in spill.ids.written_keys():
        table = spill.ids.read(bucket)
        firsts = table.group_by("transaction_id").aggregate([("_row", "min")])
        if firsts.num_rows == table.num_rows:
            continue
        joined = table.join(firsts, "transaction_id")
        repeats = joined.filter(pc.not_equal(joined["_row"], joined["_row_min"]))
        pairs += zip(repeats["_row"].to_pylist(), repeats["_row_min"].to_pylist(), strict=True)
    pairs.sort()
    for row, first in pairs:
        reason = f"repeats the transaction id of row {first}; the first is kept"
        rejects.add("transactions", {"row": row}, {"transaction_id": reason})
    summary.duplicates = len(pairs)
    return np.array([row for row, _ in pairs], dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# The import


def _read_labels(
    labels_file: Path,
    mapping: ColumnMapping,
    options: ImportOptions,
    rejects: _Rejects,
    summary: ImportSummary,
) -> dict[str, list[_PendingLabel]]:
    columns = {name: mapping.label_columns.get(name, name) for name in LABEL_FIELDS}
    if "reported_at" not in mapping.label_columns and options.label_delay is not None:
        del columns["reported_at"]
    malformed: list[tuple[int | None, str]] = []
    pending: dict[str, list[_PendingLabel]] = {}
    row = 0
    placeholder = datetime(1970, 1, 1, tzinfo=UTC)
    for batch in _batches(labels_file, list(dict.fromkeys(columns.values())), options, malformed):
        values = {name: batch.column(source).to_pylist() for name, source in columns.items()}
        for i in range(batch.num_rows):
            row += 1
            record = _clean((name, column[i]) for name, column in values.items())
            if "is_fraud" in record:
                record["is_fraud"] = _parse_flag(record["is_fraud"])
            problem = None
            if "reported_at" in columns:
                if "reported_at" in record:
                    reported, _, problem = _to_time(record["reported_at"], options)
                    record["reported_at"] = reported
            else:
                record["reported_at"] = placeholder  # set from the transaction's time + delay
            parsed = parse_label(record)
            if problem is not None:
                parsed = Rejection((FieldProblem("reported_at", problem),))
            if isinstance(parsed, Rejection):
                rejects.add("labels", {"row": row}, parsed.as_dict())
                summary.labels_rejected += 1
                continue
            if not parsed.is_fraud:
                summary.labels_genuine += 1  # no fraud label already means genuine everywhere
                continue
            pending.setdefault(parsed.transaction_id, []).append(_PendingLabel(row, parsed))
    summary.labels_read = row + len(malformed)
    for line, reason in malformed:
        rejects.add("labels", {"line": line or 0}, {"record": reason})
        summary.labels_rejected += 1
    return pending


def import_dataset(
    transactions_file: Path,
    labels_file: Path | None,
    mapping: ColumnMapping,
    out: Path,
    options: ImportOptions | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Validate every row of a bank file and write the dataset layout under `out`.

    Raises `ImportFailed` (after writing the rejects file) when no row is accepted, and
    `MappingError` when the mapping names a column the file lacks. An earlier dataset in `out` is
    replaced only when the import succeeds.
    """
    options = options or ImportOptions()
    now = options.now or datetime.now(UTC)
    if (
        labels_file is not None
        and "reported_at" not in mapping.label_columns
        and options.label_delay is None
        and "reported_at" not in _label_source_columns(labels_file, options)
    ):
        raise MappingError("the labels have no reported_at: map its column or give a label delay")
    out.mkdir(parents=True, exist_ok=True)
    staging = out / _STAGING
    _restore_interrupted_swap(staging, out)
    shutil.rmtree(staging, ignore_errors=True)
    summary = ImportSummary()
    rejects = _Rejects(out / REJECTS_FILE, summary)
    try:
        pending = (
            _read_labels(labels_file, mapping, options, rejects, summary)
            if labels_file is not None
            else {}
        )
        spill = _Spill(staging / "spill")
        try:
            _read_transactions(
                transactions_file, mapping, options, now, pending, spill, rejects, summary,
                on_progress,
            )  # fmt: skip
            spill.close()
            _write_days(spill, staging, _repeated_rows(spill, rejects, summary), summary)
        finally:
            spill.close()
        label_rows = _settle_labels(pending, rejects, summary)
    finally:
        rejects.close()
    summary.rejects_file = rejects.path
    if summary.accepted == 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise ImportFailed(_failure_message(summary), summary)
    (staging / "labels").mkdir(parents=True, exist_ok=True)
    label_table = pa.Table.from_pylist(label_rows, schema=LABEL_SCHEMA)
    pq.write_table(label_table, staging / "labels" / "labels.parquet")
    shutil.rmtree(staging / "spill")
    manifest = {
        "generator": "securebank.importer",
        "source": str(transactions_file),
        "labels_source": None if labels_file is None else str(labels_file),
        "imported_at": now.isoformat(),
        "issuer": {"country": options.country, "currency": options.currency},
        "timezone_of_naive_times": None if options.timezone is None else str(options.timezone),
        "amounts": options.amounts,
        **{k: v for k, v in vars(summary).items() if isinstance(v, int)},
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
    layout = (transactions_path(out).name, labels_path(out).name, "manifest.json")
    _swap_in(staging, out, layout)
    if sum(summary.reasons.values()) == 0:
        rejects.path.unlink()
        summary.rejects_file = None
    return summary


def _swap_in(staging: Path, out: Path, names: tuple[str, ...]) -> None:
    """Replace `out`'s entries with the staged ones. The earlier ones are moved aside first and
    deleted last, so a kill at any point leaves each entry in `out` or in the staging folder."""
    previous = staging / "previous"
    previous.mkdir()
    for name in names:
        if (out / name).exists():
            (out / name).rename(previous / name)
        (staging / name).rename(out / name)
    shutil.rmtree(staging)


def _restore_interrupted_swap(staging: Path, out: Path) -> None:
    """A swap killed midway: put back an earlier entry that `out` no longer has."""
    previous = staging / "previous"
    for entry in previous.iterdir() if previous.is_dir() else ():
        if not (out / entry.name).exists():
            entry.rename(out / entry.name)


def _label_source_columns(labels_file: Path, options: ImportOptions) -> list[str]:
    if labels_file.suffix == ".parquet" or labels_file.is_dir():
        return ds.dataset(labels_file, format="parquet").schema.names
    return _csv_header(labels_file, options)


@dataclass(frozen=True)
class _BlockPlan:
    """What validating one block needs (sent to worker processes, so plain and picklable)."""

    names: tuple[str, ...]
    sources: tuple[str, ...]
    constants: dict[str, Any]
    options: ImportOptions
    now: datetime


@dataclass
class _BlockResult:
    accepted: pa.RecordBatch
    #: (row, reasons, transaction id as written) of each refused row
    refused: list[tuple[int, dict[str, str], str | None]]
    rounded: int
    localised: int


def _validate_block(plan: _BlockPlan, batch: pa.RecordBatch, first_row: int) -> _BlockResult:
    """Normalise and validate every row of one block with the contract: the hot loop."""
    options, constants, now = plan.options, plan.constants, plan.now
    columns = [batch.column(source).to_pylist() for source in plan.sources]
    accepted: list[Any] = []
    rows: list[int] = []
    refused: list[tuple[int, dict[str, str], str | None]] = []
    rounded = localised = 0
    base = _clean(constants.items())
    for row, values in enumerate(zip(*columns, strict=True), start=first_row):
        record = _clean(zip(plan.names, values, strict=True), base)
        problem = None
        if "currency" not in record:
            record["currency"] = options.currency
        if "amount" in record:
            record["amount"], was_rounded = normalise_amount(
                record["amount"], record["currency"], options.amounts, options.decimal_comma
            )
            rounded += was_rounded
        if "event_time" in record:
            record["event_time"], was_localised, problem = _to_time(record["event_time"], options)
            localised += was_localised
        parsed = parse_transaction(record, now=now)
        if problem is not None or isinstance(parsed, Rejection):
            reasons = parsed.as_dict() if isinstance(parsed, Rejection) else {}
            if problem is not None:
                reasons["event_time"] = problem
            tid = record.get("transaction_id")
            refused.append((row, reasons, tid if isinstance(tid, str) else None))
            continue
        accepted.append(parsed.__dict__)
        rows.append(row)
    data = {name: [values[name] for values in accepted] for name in TRANSACTION_FIELDS}
    data["_row"] = rows
    return _BlockResult(
        pa.RecordBatch.from_pydict(data, schema=_SPILL_SCHEMA), refused, rounded, localised
    )


def _read_transactions(
    path: Path,
    mapping: ColumnMapping,
    options: ImportOptions,
    now: datetime,
    pending: dict[str, list[_PendingLabel]],
    spill: _Spill,
    rejects: _Rejects,
    summary: ImportSummary,
    on_progress: Callable[[int], None] | None,
) -> None:
    constants = dict(mapping.constants)
    if "currency" not in mapping.columns:
        constants.setdefault("currency", options.currency)
    sources = {
        name: mapping.column_for(name)
        for name in TRANSACTION_FIELDS
        if name not in constants and (name in mapping.columns or name in REQUIRED_FIELDS)
    }
    wanted = list(dict.fromkeys(sources.values()))
    plan = _BlockPlan(tuple(sources), tuple(sources.values()), constants, options, now)
    delay = options.label_delay if "reported_at" not in mapping.label_columns else None
    malformed: list[tuple[int | None, str]] = []
    row = 0

    def absorb(result: _BlockResult) -> None:
        summary.amounts_rounded += result.rounded
        summary.times_localised += result.localised
        for refused_row, reasons, tid in result.refused:
            rejects.add("transactions", {"row": refused_row}, reasons)
            summary.rejected += 1
            for label in pending.get(tid, ()) if tid is not None else ():
                if label.status == "orphaned":
                    label.status, label.transaction_row = "refused", refused_row
        if pending:
            _match_labels(result.accepted, pending, delay)
        spill.write(result.accepted)

    blocks = _batches(path, wanted, options, malformed)
    if options.workers <= 1:
        for batch in blocks:
            absorb(_validate_block(plan, batch, row + 1))
            row += batch.num_rows
            if on_progress is not None:
                on_progress(row)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        in_flight: deque = deque()
        with ProcessPoolExecutor(options.workers, mp_context=context) as pool:
            for batch in blocks:
                in_flight.append(pool.submit(_validate_block, plan, batch, row + 1))
                row += batch.num_rows
                while len(in_flight) >= 2 * options.workers:  # bounded: memory stays flat
                    absorb(in_flight.popleft().result())
                    if on_progress is not None:
                        on_progress(row)
            while in_flight:
                absorb(in_flight.popleft().result())
        if on_progress is not None:
            on_progress(row)
    summary.rows = row
    summary.malformed = len(malformed)
    for line, reason in malformed:
        rejects.add("transactions", {"line": line or 0}, {"record": reason})


def _match_labels(
    accepted: pa.RecordBatch, pending: dict[str, list[_PendingLabel]], delay: timedelta | None
) -> None:
    """Mark the labels whose transaction was accepted; date them when they carry no time."""
    ids = accepted.column("transaction_id").to_pylist()
    for i in [i for i, tid in enumerate(ids) if tid in pending]:
        event_time = accepted.column("event_time")[i].as_py()
        row = accepted.column("_row")[i].as_py()
        for label in pending[ids[i]]:
            if label.status in ("accepted", "early"):
                continue  # a repeated id: the label belongs to the first row, which is kept
            label.status, label.transaction_row = "accepted", row
            if delay is not None:
                label.label = label.label.model_copy(update={"reported_at": event_time + delay})
            elif label.label.reported_at < event_time:
                label.status = "early"


def _write_days(spill: _Spill, staging: Path, repeated: np.ndarray, summary: ImportSummary) -> None:
    """Each day's accepted rows, repeats dropped, sorted, as the day's Parquet partition."""
    for day in spill.days.written_keys():
        table = spill.days.read(day)
        if len(repeated):
            table = table.filter(pa.array(~np.isin(table["_row"].to_numpy(), repeated)))
        if table.num_rows == 0:
            continue
        table = table.sort_by([("event_time", "ascending"), ("transaction_id", "ascending")])
        folder = day_folder(staging, day)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table.drop_columns(["_row"]).cast(TRANSACTION_SCHEMA), folder / "part-0.parquet"
        )
        summary.accepted += table.num_rows
        summary.days += 1


def _settle_labels(
    pending: dict[str, list[_PendingLabel]], rejects: _Rejects, summary: ImportSummary
) -> list[dict[str, Any]]:
    """Labels of accepted rows are kept; every other label goes to the rejects with why."""
    kept: list[dict[str, Any]] = []
    for labels in pending.values():
        for label in labels:
            if label.status == "accepted":
                kept.append({**label.label.model_dump(), "fraud_scenario": None})
                continue
            if label.status == "refused":
                reason = f"its transaction (row {label.transaction_row}) was refused"
                summary.labels_of_refused_rows += 1
            elif label.status == "early":
                reason = f"reported before its transaction's time (row {label.transaction_row})"
            else:
                reason = "no transaction with this id in the transactions file"
                summary.labels_orphaned += 1
            rejects.add("labels", {"row": label.row}, {"transaction_id": reason})
            summary.labels_rejected += 1
    kept.sort(key=lambda r: (r["reported_at"], r["transaction_id"]))
    summary.labels = len(kept)
    return kept


def _failure_message(summary: ImportSummary) -> str:
    if summary.rows == 0:
        return f"the transactions file has no rows ({summary.malformed} malformed lines)"
    tx_reasons = [(k, n) for k, n in summary.reasons.most_common() if k.startswith("transactions")]
    reason, count = tx_reasons[0]
    return (
        f"none of the {summary.rows:,} rows was accepted; most common reason: "
        f"{reason.removeprefix('transactions: ')} ({count:,} rows); all in {summary.rejects_file}"
    )
