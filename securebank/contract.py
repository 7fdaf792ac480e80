"""The transaction contract: what a transaction and a fraud label look like, and why one is refused.

Every entry point (simulator output, bulk import, the ingest API, the stream scorer) validates with
`parse_transaction`, which never raises for bad input: it returns a `Rejection` listing a reason per
field. Reasons never echo the offending value, so a raw card number that is refused cannot leak into
a log or a dead-letter queue through its rejection message.

Only five fields are required: transaction id, event time, card, merchant and amount, plus the
currency the amount is in (a bare number has no meaning; the importer fills a bank file's missing
currency with the configured issuer currency). Everything else is optional because real bank files
often lack it: an absent mcc, merchant country, channel, location or device is None (unknown, never
guessed), an absent customer_id is None (features key on the card), and an absent status means
`approved` (a bank's transaction history lists the transactions that happened).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

import pyarrow as pa
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from securebank.pan import contains_pan
from securebank.reference import (
    USD_PER_UNIT,
    currency_exponent,
    is_iso_country,
    is_iso_currency,
    max_amount_usd,
)

#: How far in the future an event_time may lie (clock skew between producers and us).
MAX_FUTURE_SKEW = timedelta(minutes=5)

#: Fields that hold numbers: the PAN check never runs on them (`85.64999999999999` is an amount).
NUMERIC_FIELDS = frozenset({"amount", "merchant_lat", "merchant_lon"})

_ID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")]


#: Where a card number hid in a field's name rather than its value (the name is not echoed).
PAN_IN_FIELD_NAME = "(a field name)"
#: Longer strings are refused unread: no field of the contract comes near it.
MAX_VALUE_CHARS = 1024
PAN_REASON = "looks like a raw card number (PAN); send a token"


def card_number_fields(record: dict[Any, Any]) -> dict[str, str]:
    """{field: reason} for the fields of `record` whose name or value (at any depth) holds a card
    number or an oversized string. The offending text is never repeated: a name that holds a card
    number is reported as `PAN_IN_FIELD_NAME`. Numbers count (`4111111111111111` as JSON number)."""
    found: dict[str, str] = {}
    for key, value in record.items():
        key_text = str(key)
        if len(key_text) > MAX_VALUE_CHARS:
            found[PAN_IN_FIELD_NAME] = f"a field name is longer than {MAX_VALUE_CHARS} characters"
            continue
        if contains_pan(key_text):
            found[PAN_IN_FIELD_NAME] = PAN_REASON
            continue
        if key_text in NUMERIC_FIELDS:
            continue  # a number is not a card number (`85.64999999999999` is an amount)
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(str(k) for k in item)
                stack.extend(item.values())
            elif isinstance(item, list | tuple):
                stack.extend(item)
            elif isinstance(item, str | int | float) and not isinstance(item, bool):
                text = item if isinstance(item, str) else repr(item)
                if len(text) > MAX_VALUE_CHARS:
                    found[key_text] = f"longer than {MAX_VALUE_CHARS} characters"
                    break
                if contains_pan(text):
                    found[key_text] = PAN_REASON
                    break
    return found


def _refuse_card_numbers(data: Any) -> Any:
    if isinstance(data, dict):
        problems = card_number_fields(data)
        if problems:
            raise PydanticCustomError(
                "pan_detected", "a card number or oversized value", {"problems": problems}
            )
    return data


class Channel(StrEnum):
    POS = "pos"
    ECOMMERCE = "ecommerce"
    ATM = "atm"
    TRANSFER = "transfer"


class Status(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    FAILED = "failed"


class Transaction(BaseModel):
    """One card or payment transaction as the platform receives it. Identifiers are tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    transaction_id: _ID
    event_time: AwareDatetime = Field(strict=False)
    card_id: _ID
    customer_id: _ID | None = None
    merchant_id: _ID
    mcc: Annotated[str, Field(pattern=r"^\d{4}$")] | None = None
    amount: Decimal = Field(strict=False, allow_inf_nan=False)
    currency: str
    merchant_country: str | None = None
    merchant_lat: float | None = Field(default=None, strict=False, ge=-90, le=90)
    merchant_lon: float | None = Field(default=None, strict=False, ge=-180, le=180)
    channel: Channel | None = Field(default=None, strict=False)
    device_id: _ID | None = None
    status: Status = Field(default=Status.APPROVED, strict=False)

    @model_validator(mode="before")
    @classmethod
    def _no_pan_anywhere(cls, data: Any) -> Any:
        return _refuse_card_numbers(data)

    @field_validator("event_time")
    @classmethod
    def _utc_and_not_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        value = value.astimezone(UTC)
        now = (info.context or {}).get("now") or datetime.now(UTC)
        if value > now + MAX_FUTURE_SKEW:
            raise PydanticCustomError(
                "future_event_time",
                "event_time is more than {minutes} minutes in the future",
                {"minutes": int(MAX_FUTURE_SKEW.total_seconds() // 60)},
            )
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if not is_iso_currency(value):
            raise PydanticCustomError("currency", "not an ISO 4217 currency code")
        if value not in USD_PER_UNIT:
            raise PydanticCustomError("currency", "ISO 4217 currency not accepted for settlement")
        return value

    @field_validator("merchant_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and not is_iso_country(value):
            raise PydanticCustomError("country", "not an ISO 3166-1 alpha-2 country code")
        return value

    @model_validator(mode="after")
    def _amount_and_location(self) -> Transaction:
        exponent = currency_exponent(self.currency)
        if self.amount <= 0:
            raise _field_error("amount", "amount must be positive")
        try:
            exact = self.amount == self.amount.quantize(Decimal(1).scaleb(-exponent))
        except InvalidOperation:
            exact = False
        if not exact:
            raise _field_error(
                "amount", f"amount has more decimal places than {self.currency} allows ({exponent})"
            )
        if self.amount * Decimal(str(USD_PER_UNIT[self.currency])) > max_amount_usd():
            raise _field_error("amount", f"amount exceeds the {max_amount_usd()} USD limit")
        if (self.merchant_lat is None) != (self.merchant_lon is None):
            raise _field_error("merchant_lat", "merchant_lat and merchant_lon come together")
        return self

    @property
    def amount_minor(self) -> int:
        """The amount in the currency's minor units (cents, or yen for JPY)."""
        return int(self.amount.scaleb(currency_exponent(self.currency)))


class FraudLabel(BaseModel):
    """A fraud outcome for a transaction, known only from `reported_at` on (chargeback delay)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    transaction_id: _ID
    is_fraud: bool
    reported_at: AwareDatetime = Field(strict=False)

    @model_validator(mode="before")
    @classmethod
    def _no_pan_anywhere(cls, data: Any) -> Any:
        return _refuse_card_numbers(data)


class _FieldError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _field_error(field: str, reason: str) -> _FieldError:
    return _FieldError(field, reason)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record was refused: one problem per field, never the offending values."""

    problems: tuple[FieldProblem, ...]

    def __str__(self) -> str:
        return "; ".join(str(p) for p in self.problems)

    def as_dict(self) -> dict[str, str]:
        return {p.field: p.reason for p in self.problems}


def _rejection_from(error: ValidationError) -> Rejection:
    problems = []
    for item in error.errors(include_input=False, include_url=False, include_context=True):
        loc = [str(part) for part in item["loc"]]
        if item["type"] == "pan_detected":
            found = item.get("ctx", {}).get("problems", {})
            problems.extend(FieldProblem(field, reason) for field, reason in found.items())
            continue
        elif item["type"] == "value_error" and isinstance(
            item.get("ctx", {}).get("error"), _FieldError
        ):
            inner = item["ctx"]["error"]
            problems.append(FieldProblem(inner.field, inner.reason))
            continue
        else:
            field = ".".join(loc) or "record"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unexpected field"
        elif item["type"] == "missing":
            message = "required field is missing"
        problems.append(FieldProblem(field, message))
    return Rejection(tuple(problems))


def parse_transaction(raw: Any, *, now: datetime | None = None) -> Transaction | Rejection:
    """Validate one raw record (a dict, e.g. decoded JSON). Never raises for bad input."""
    if not isinstance(raw, dict):
        return Rejection((FieldProblem("record", "a transaction must be a JSON object"),))
    try:
        return Transaction.model_validate(raw, context={"now": now})
    except ValidationError as error:
        return _rejection_from(error)


def parse_label(raw: Any) -> FraudLabel | Rejection:
    if not isinstance(raw, dict):
        return Rejection((FieldProblem("record", "a label must be a JSON object"),))
    try:
        return FraudLabel.model_validate(raw)
    except ValidationError as error:
        return _rejection_from(error)


#: Parquet/Arrow layout of the transactions table in the lake and in generated datasets. The
#: contract's required fields (and status, which always has a value) are non-nullable columns; the
#: optional ones are nullable, null meaning unknown.
TRANSACTION_SCHEMA = pa.schema(
    [
        pa.field("transaction_id", pa.string(), nullable=False),
        pa.field("event_time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("card_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string()),
        pa.field("merchant_id", pa.string(), nullable=False),
        pa.field("mcc", pa.string()),
        pa.field("amount", pa.decimal128(18, 4), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("merchant_country", pa.string()),
        pa.field("merchant_lat", pa.float64()),
        pa.field("merchant_lon", pa.float64()),
        pa.field("channel", pa.string()),
        pa.field("device_id", pa.string()),
        pa.field("status", pa.string(), nullable=False),
    ]
)

#: Labels table: fraud outcomes, plus the simulator's scenario tag (ground truth for evaluation
#: only, empty for imported data; never a feature).
LABEL_SCHEMA = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("is_fraud", pa.bool_()),
        ("reported_at", pa.timestamp("ms", tz="UTC")),
        ("fraud_scenario", pa.string()),
    ]
)
