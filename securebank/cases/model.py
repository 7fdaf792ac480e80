"""Cases: what an analyst works, from alert to outcome. Pure logic, no AWS.

A case is made from one review or decline alert and moves open → assigned → resolved (a case may
be resolved straight from open; a resolved case is final). Every change appends an `AuditEntry`
(who, when, what, the fields before and after), so the case item carries its own history. The
case id is the transaction id: an alert delivered twice makes one case.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from securebank.pan import contains_pan


class CaseStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    FRAUD = "fraud"
    LEGIT = "legit"
    UNKNOWN = "unknown"


class CaseError(ValueError):
    """A request that the case's state does not allow (the message says why)."""


class CaseConflict(CaseError):
    """The case's current state does not allow the change (it was resolved meanwhile, ...)."""


class InvalidAlert(ValueError):
    """An alert message that cannot become a case."""


#: `\Z`, not `$`: `$` also matches before a final newline, which would let "bob\n" through.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\- ]{0,63}\Z")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}\Z")
MAX_NOTE = 2000
#: Bounds on what an alert may put into a case (a DynamoDB item holds at most 400 KB).
MAX_REASONS = 10
MAX_FEATURES = 256
MAX_TEXT = 64
ALERT_ACTIONS = ("review", "decline")


def check_name(name: str, what: str = "name") -> str:
    """An analyst's name: 1-64 letters, digits, space and `_.@-`."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise CaseError(f"{what} must be 1-64 letters, digits, spaces or _.@- (got {name!r})")
    return name


def check_case_id(case_id: str) -> str:
    if not isinstance(case_id, str) or not _ID.match(case_id):
        raise CaseError("not a case id" + ("" if contains_pan(str(case_id)) else f": {case_id!r}"))
    if contains_pan(case_id):
        raise CaseError("not a case id: it looks like a card number")
    return case_id


@dataclass(frozen=True)
class AuditEntry:
    who: str
    when: str
    what: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True)
class Case:
    case_id: str
    transaction_id: str
    card_id: str
    merchant_id: str
    event_time: str
    amount: str
    currency: str
    action: str
    score: float
    model_version: str
    reason_codes: tuple[dict[str, Any], ...]
    features: dict[str, float | None]
    created_at: str
    status: CaseStatus = CaseStatus.OPEN
    assignee: str | None = None
    outcome: Outcome | None = None
    note: str = ""
    resolved_at: str | None = None
    audit: tuple[AuditEntry, ...] = field(default_factory=tuple)
    #: Optimistic-concurrency counter: the store writes only over the version it read.
    version: int = 0

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["status"] = self.status.value
        document["outcome"] = None if self.outcome is None else self.outcome.value
        document["reason_codes"] = list(self.reason_codes)
        document["audit"] = [asdict(a) for a in self.audit]
        return document

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Case:
        values = dict(document)
        values["status"] = CaseStatus(values["status"])
        values["outcome"] = None if values.get("outcome") is None else Outcome(values["outcome"])
        values["reason_codes"] = tuple(values.get("reason_codes") or ())
        values["audit"] = tuple(AuditEntry(**a) for a in values.get("audit") or ())
        values["score"] = float(values["score"])
        values["version"] = int(values.get("version", 0))
        return cls(**values)

    def top_reasons(self, n: int = 3) -> list[str]:
        return [str(r.get("feature")) for r in self.reason_codes[:n]]


def case_from_alert(message: str | bytes | dict[str, Any], now: str) -> Case:
    """The case for one alert (the JSON the scorer publishes to the alerts topic).

    Every number a case keeps is finite: a score or feature value that is NaN or infinite makes
    the alert invalid (a reason code with such a contribution is dropped, like one without a
    number), so no case document holds what JSON cannot carry."""
    try:
        alert = json.loads(message) if isinstance(message, str | bytes) else message
    except ValueError as error:
        raise InvalidAlert("alert is not JSON") from error
    if not isinstance(alert, dict):
        raise InvalidAlert("alert is not a JSON object")
    missing = [
        k
        for k in ("transaction_id", "card_id", "merchant_id", "event_time", "action", "score")
        if alert.get(k) in (None, "")
    ]
    if missing:
        raise InvalidAlert(f"alert lacks {', '.join(missing)}")
    if alert["action"] not in ALERT_ACTIONS:
        raise InvalidAlert(f"action {alert['action']!r} does not open a case")
    tid = str(alert["transaction_id"])
    if not _ID.match(tid) or contains_pan(tid):
        raise InvalidAlert("transaction_id is not a valid id")
    try:
        score = float(alert["score"])
    except (TypeError, ValueError) as error:
        raise InvalidAlert("score is not a number") from error
    if not math.isfinite(score):
        # float() takes "nan" and "inf" (json.loads takes NaN): not a score, and not JSON either.
        raise InvalidAlert("score is not a finite number")
    reasons = alert.get("reason_codes") or []
    if not isinstance(reasons, list):
        raise InvalidAlert("reason_codes is not a list")
    names = alert.get("feature_names") or []
    values = alert.get("features") or []
    try:
        features = (
            {
                str(n)[:MAX_TEXT]: (None if v is None else float(v))
                for n, v in zip(names, values, strict=True)
            }
            if isinstance(names, list)
            and isinstance(values, list)
            and len(names) == len(values) <= MAX_FEATURES
            else {}
        )
    except (TypeError, ValueError) as error:
        raise InvalidAlert("features are not numbers") from error
    if not all(v is None or math.isfinite(v) for v in features.values()):
        raise InvalidAlert("features are not finite numbers (a missing value is null)")
    case = Case(
        case_id=tid,
        transaction_id=tid,
        card_id=str(alert["card_id"])[:MAX_TEXT],
        merchant_id=str(alert["merchant_id"])[:MAX_TEXT],
        event_time=str(alert["event_time"])[:MAX_TEXT],
        amount=str(alert.get("amount", ""))[:MAX_TEXT],
        currency=str(alert.get("currency", ""))[:MAX_TEXT],
        action=str(alert["action"]),
        score=score,
        model_version=str(alert.get("model_version", ""))[:MAX_TEXT],
        reason_codes=tuple(
            {"feature": str(r.get("feature"))[:MAX_TEXT], "contribution": r.get("contribution")}
            for r in reasons[:MAX_REASONS]
            if isinstance(r, dict)
            and isinstance(r.get("contribution"), int | float)
            and math.isfinite(r["contribution"])
        ),
        features=features,
        created_at=now,
    )
    entry = AuditEntry("system", now, "opened", {}, {"status": CaseStatus.OPEN.value})
    return replace(case, audit=(entry,))


def _fields(case: Case) -> dict[str, Any]:
    return {
        "status": case.status.value,
        "assignee": case.assignee,
        "outcome": None if case.outcome is None else case.outcome.value,
        "note": case.note,
    }


def _audited(before: Case, after: Case, who: str, when: str, what: str) -> Case:
    old, new = _fields(before), _fields(after)
    changed = [k for k in new if old[k] != new[k]]
    entry = AuditEntry(who, when, what, {k: old[k] for k in changed}, {k: new[k] for k in changed})
    return replace(after, audit=(*before.audit, entry))


def assign(case: Case, to: str, who: str, when: str) -> Case:
    """Give an open or assigned case to analyst `to`."""
    check_name(to, "assignee")
    check_name(who, "analyst")
    if case.status is CaseStatus.RESOLVED:
        raise CaseConflict(f"case {case.case_id} is resolved; it cannot be assigned")
    if case.status is CaseStatus.ASSIGNED and case.assignee == to:
        raise CaseConflict(f"case {case.case_id} is already assigned to {to}")
    after = replace(case, status=CaseStatus.ASSIGNED, assignee=to)
    return _audited(case, after, who, when, "assigned")


def resolve(case: Case, outcome: Outcome | str, note: str, who: str, when: str) -> Case:
    """Close a case with its outcome. Resolving an open case assigns it to the resolver."""
    check_name(who, "analyst")
    try:
        outcome = Outcome(outcome)
    except ValueError as error:
        choices = ", ".join(o.value for o in Outcome)
        raise CaseError(f"outcome must be one of {choices} (got {outcome!r})") from error
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise CaseError(f"note must be text of at most {MAX_NOTE} characters")
    if contains_pan(note):
        raise CaseError("the note looks like it holds a card number; card numbers are never stored")
    if case.status is CaseStatus.RESOLVED:
        raise CaseConflict(f"case {case.case_id} is already resolved ({case.outcome})")
    after = replace(
        case,
        status=CaseStatus.RESOLVED,
        assignee=case.assignee or who,
        outcome=outcome,
        note=note,
        resolved_at=when,
    )
    return _audited(case, after, who, when, "resolved")
