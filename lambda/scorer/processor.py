"""Scoring one Kinesis batch: validate, enrich, score within budget, decide, fan out, store.

Order of writes, chosen so that nothing is lost and nothing is counted twice when a batch is
retried (whole or from its first failed record):

1. invalid records → dead-letter queue (with reasons);
2. records already applied to their card's state (sequence number at or below the card's
   watermark for the shard) were fully processed before: skipped. A Kinesis batch comes from
   one shard;
3. features from the state, then scores (endpoint or fallback) and decisions;
4. lake and alerts (at least once), then decisions (exactly once: one per transaction_id),
   then the feature state with the new watermarks (exactly once).

A failure after step 4 began leaves a retry that re-sends lake rows and alerts (same
transaction_id) but makes no second decision and no second state update.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from securebank.features.online import FeatureInput, compute_features
from securebank.rules.active import ActiveRules, apply_rules
from securebank.scorer.decision_store import Decision, DecisionWriter
from securebank.scorer.fanout import AlertPublisher, DeadLetterQueue, LakeWriter
from securebank.scorer.records import StreamRecord, decode_record
from securebank.scorer.scoring import EndpointScorer, FallbackScorer, score_within_budget
from securebank.scorer.state_store import CardEntry, FeatureStateStore, MerchantEntry


@dataclass
class ScorerParts:
    """The adapters the scorer writes through, built once per container."""

    states: FeatureStateStore
    decisions: DecisionWriter
    lake: LakeWriter
    alerts: AlertPublisher
    dead_letters: DeadLetterQueue
    endpoint: EndpointScorer | None
    fallback: FallbackScorer
    feature_set_version: str
    latency_budget_ms: int
    #: The active rule set, evaluated after scoring (endpoint or fallback); None: no rules.
    rules: ActiveRules | None = None


@dataclass
class BatchReport:
    records: int = 0
    invalid: int = 0
    skipped_redelivered: int = 0
    decided: int = 0
    duplicates: int = 0
    alerts: int = 0
    fallback: int = 0
    fallback_reason: str | None = None
    actions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    scoring_ms: float = 0.0


def process_batch(
    raw_records: Sequence[dict],
    parts: ScorerParts,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BatchReport:
    started = time.perf_counter()
    deadline = started + parts.latency_budget_ms / 1000
    report = BatchReport(records=len(raw_records))
    moment = now()
    records = [decode_record(r, moment) for r in raw_records]
    invalid = [r for r in records if r.transaction is None]
    valid = [r for r in records if r.transaction is not None]
    if invalid:
        report.invalid = parts.dead_letters.send(invalid)
    if not valid:
        report.seconds = time.perf_counter() - started
        return report

    cards, merchants = parts.states.load(
        valid[0].shard_id,
        [r.transaction.card_id for r in valid],
        [r.transaction.merchant_id for r in valid],
    )
    fresh: list[tuple[StreamRecord, FeatureInput]] = []
    vectors: list[list[float]] = []
    for record in valid:
        txn = record.transaction
        card, merchant = cards[txn.card_id], merchants[txn.merchant_id]
        if card.has_applied(record.shard_id, record.sequence):
            report.skipped_redelivered += 1
            continue
        inp = FeatureInput.from_transaction(txn)
        vectors.append(compute_features(inp, card.state, merchant.merged))
        _apply(record, inp, card, merchant)
        fresh.append((record, inp))
    if not fresh:
        report.seconds = time.perf_counter() - started
        return report

    x = np.asarray(vectors, dtype=np.float32)
    scoring_started = time.perf_counter()
    scored = score_within_budget(x, parts.endpoint, parts.fallback, deadline)
    report.scoring_ms = (time.perf_counter() - scoring_started) * 1000
    if scored.scored_by == "fallback":
        report.fallback = len(fresh)
        report.fallback_reason = scored.error
    rules_version, outcomes = apply_rules(
        parts.rules, vectors, [r.transaction for r, _ in fresh], scored.actions
    )
    decided_at = int(time.time() * 1000)
    decisions = []
    for i, (record, _) in enumerate(fresh):
        txn = record.transaction
        decisions.append(
            Decision(
                transaction_id=txn.transaction_id,
                card_id=txn.card_id,
                merchant_id=txn.merchant_id,
                event_time=txn.event_time.isoformat(),
                amount=str(txn.amount),
                currency=txn.currency,
                merchant_country=txn.merchant_country,
                mcc=txn.mcc,
                score=scored.scores[i],
                action=outcomes[i].action,
                review_threshold=scored.thresholds[0],
                decline_threshold=scored.thresholds[1],
                model_version=scored.model_version,
                feature_set_version=parts.feature_set_version,
                scored_by=scored.scored_by,
                explain_method=scored.explain_method if scored.reasons[i] else "",
                reason_codes=json.dumps(scored.reasons[i]) if scored.reasons[i] else "",
                shard_id=record.shard_id,
                sequence_number=record.sequence_number,
                arrived_at_ms=record.arrival_ms,
                decided_at_ms=decided_at,
                features=tuple(None if v != v else float(v) for v in x[i].tolist()),
                rule_hits=outcomes[i].hits,
                rules_version=rules_version,
                model_action=scored.actions[i],
            )
        )
    parts.lake.write(decisions)
    report.alerts = parts.alerts.publish(decisions)
    written = parts.decisions.write(decisions)
    report.decided = len(written)
    report.duplicates = len(decisions) - len(written)
    for d in decisions:
        report.actions[d.action] = report.actions.get(d.action, 0) + 1
    parts.states.save(cards, merchants)
    report.seconds = time.perf_counter() - started
    return report


def _apply(
    record: StreamRecord, inp: FeatureInput, card: CardEntry, merchant: MerchantEntry
) -> None:
    """Apply to each state that has not seen this record yet, and move its watermark."""
    at = card.state.effective_time(inp.time_ms)
    card.state.apply(inp, at)
    card.applied[record.shard_id] = record.sequence_number
    card.dirty = True
    m_now = merchant.merged.effective_time(inp.time_ms)
    merchant.merged.expire(m_now)
    merchant.merged.apply(m_now)
    if not merchant.has_applied(record.shard_id, record.sequence):
        merchant.own.expire(m_now)
        merchant.own.apply(m_now)
        merchant.applied[record.shard_id] = record.sequence_number
        merchant.dirty = True
