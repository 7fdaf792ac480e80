"""The alerts-queue consumer: every review or decline alert becomes a case, once.

Alerts reach the queue at least once (SNS → SQS, and the scorer may publish a retried batch
again); the case id is the transaction id and creation is conditional, so a repeated alert is
acknowledged without a second case. An alert that cannot become a case goes to the dead-letter
queue with its reason and is acknowledged: it costs no other alert.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from securebank.cases.model import Case, InvalidAlert, case_from_alert
from securebank.cases.store import CaseStore
from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION

RECEIVE_BATCH = 10
PARALLEL_PUTS = 10


@dataclass
class AlertReport:
    messages: int = 0
    created: int = 0
    duplicates: int = 0
    invalid: int = 0
    seconds: float = 0.0


def _with_names(body: str) -> str | dict[str, Any]:
    """Name the features of an alert scored with this build's feature set."""
    try:
        alert = json.loads(body)
    except ValueError:
        return body
    if (
        isinstance(alert, dict)
        and alert.get("feature_set_version") == FEATURE_SET_VERSION
        and isinstance(alert.get("features"), list)
        and len(alert["features"]) == len(FEATURE_NAMES)
    ):
        alert["feature_names"] = list(FEATURE_NAMES)
    return alert


def cases_from_messages(
    bodies: Sequence[str], now: str
) -> list[tuple[int, Case | None, str | None]]:
    """(index, case or None, reason when invalid) for each message body."""
    out: list[tuple[int, Case | None, str | None]] = []
    for index, body in enumerate(bodies):
        try:
            out.append((index, case_from_alert(_with_names(body), now), None))
        except InvalidAlert as error:
            out.append((index, None, str(error)))
    return out


def create_cases(
    bodies: Sequence[str],
    store: CaseStore,
    now: str,
    dead_letter: Callable[[str, str], None],
    report: AlertReport,
) -> None:
    """Create the cases of a batch of alerts: conditional puts, several at once (each is one
    round trip; boto3 clients are thread-safe)."""
    parsed = cases_from_messages(bodies, now)
    for index, case, reason in parsed:
        report.messages += 1
        if case is None:
            report.invalid += 1
            dead_letter(bodies[index], reason or "invalid alert")
    cases = [case for _, case, _ in parsed if case is not None]
    with ThreadPoolExecutor(max_workers=min(PARALLEL_PUTS, max(len(cases), 1))) as pool:
        for created in pool.map(store.create, cases):
            if created:
                report.created += 1
            else:
                report.duplicates += 1


class AlertQueueConsumer:
    """Polls the alerts queue (the local counterpart of the SQS → Lambda mapping)."""

    def __init__(
        self, sqs: Any, queue_url: str, store: CaseStore, dead_letter_url: str | None
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.store = store
        self.dead_letter_url = dead_letter_url

    def dead_letter(self, body: str, reason: str) -> None:
        if self.dead_letter_url is None:
            return
        self._sqs.send_message(
            QueueUrl=self.dead_letter_url,
            MessageBody=json.dumps({"reason": f"alert: {reason}", "alert": body[:200_000]}),
        )

    def poll_once(self, now: str, report: AlertReport, wait_s: int = 0) -> int:
        """Receive up to 10 alerts, make their cases, then delete them; returns how many."""
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=RECEIVE_BATCH, WaitTimeSeconds=wait_s
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        create_cases([m["Body"] for m in messages], self.store, now, self.dead_letter, report)
        self._sqs.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        return len(messages)
