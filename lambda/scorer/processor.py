"""Scoring one Kinesis batch: validate, enrich, score within budget, decide, fan out, store.

Exactly once per transaction, whatever the stream delivers (docs/stream.md):

1. records that fail decoding or the contract → dead-letter queue with their reasons; a
   transaction id seen twice in the batch is kept once;
2. state of the batch's cards and merchants; a record at or below its card's watermark was fully
   processed before (state is written last) and is skipped;
3. features (stream order), scores (endpoint or fallback), decisions;
4. each decision is claimed with a conditional write keyed by transaction_id: a transaction that
   another record already decided is a duplicate (no decision, no state); one this very record
   decided in an earlier attempt keeps its stored decision and finishes the rest;
5. lake and alerts for the claimed decisions (at least once, identified by transaction_id);
6. feature state, conditional on the versions read, merchant partials then cards.

A crash anywhere leaves a retry that redoes only what is missing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from securebank.contract import FieldProblem, Rejection
from securebank.features.online import FeatureInput, compute_features
from securebank.rules.active import ActiveRules, RuleOutcome, apply_rules
from securebank.scorer.decision_store import Decision, DecisionStore
from securebank.scorer.fanout import AlertPublisher, DeadLetterQueue, LakeWriter
from securebank.scorer.records import StreamRecord, decode_record
from securebank.scorer.scoring import (
    BatchScores,
    EndpointScorer,
    FallbackScorer,
    score_within_budget,
)
from securebank.scorer.state_store import Application, FeatureStateStore, StateView


@dataclass
class ScorerParts:
    """The adapters the scorer writes through, built once per container."""

    states: FeatureStateStore
    decisions: DecisionStore
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
    #: Claimed by an earlier attempt of the same record; finished now.
    resumed: int = 0
    #: Transactions another record (or an earlier copy in this batch) already decided.
    duplicates: int = 0
    alerts: int = 0
    fallback: int = 0
    fallback_reason: str | None = None
    state_conflicts: int = 0
    seconds: float = 0.0
    scoring_ms: float = 0.0


@dataclass(frozen=True)
class _Fresh:
    record: StreamRecord
    inp: FeatureInput
    merchant_at_ms: int


def process_batch(
    raw_records: Sequence[dict],
    parts: ScorerParts,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BatchReport:
    started = time.perf_counter()
    deadline = started + parts.latency_budget_ms / 1000
    report = BatchReport(records=len(raw_records))
    moment = now()
    valid: list[StreamRecord] = []
    invalid: list[StreamRecord] = []
    seen: set[str] = set()
    for record in (decode_record(r, moment) for r in raw_records):
        if record.transaction is None:
            invalid.append(record)
        elif record.transaction.transaction_id in seen:
            report.duplicates += 1
        else:
            seen.add(record.transaction.transaction_id)
            valid.append(record)
    view, fresh, vectors = _features(valid, parts, report, invalid)
    if invalid:
        report.invalid = parts.dead_letters.send(invalid)
    if view is not None and fresh:
        _decide_and_store(view, fresh, vectors, parts, report, deadline)
    report.seconds = time.perf_counter() - started
    return report


def _features(
    valid: list[StreamRecord],
    parts: ScorerParts,
    report: BatchReport,
    invalid: list[StreamRecord],
) -> tuple[StateView | None, list[_Fresh], list[list[float]]]:
    """Feature vectors of the records not processed before, each given the state before it."""
    if not valid:
        return None, [], []
    view = parts.states.load(
        valid[0].shard_id,
        [r.transaction.card_id for r in valid],
        [r.transaction.merchant_id for r in valid],
    )
    fresh: list[_Fresh] = []
    vectors: list[list[float]] = []
    for record in valid:
        txn = record.transaction
        card, merchant = view.cards[txn.card_id], view.merchants[txn.merchant_id]
        if card.has_applied(record.shard_id, record.sequence):
            report.skipped_redelivered += 1
            continue
        inp = FeatureInput.from_transaction(txn)
        try:
            vectors.append(compute_features(inp, card.state, merchant.merged))
        except (ArithmeticError, ValueError, TypeError, KeyError) as error:
            problem = FieldProblem(
                "record", f"features could not be computed ({type(error).__name__})"
            )
            invalid.append(replace(record, transaction=None, rejection=Rejection((problem,))))
            continue
        card.state.apply(inp, card.state.effective_time(inp.time_ms))
        at = merchant.merged.effective_time(inp.time_ms)
        merchant.merged.expire(at)
        merchant.merged.apply(at)
        fresh.append(_Fresh(record, inp, at))
    return view, fresh, vectors


def _decide_and_store(
    view: StateView,
    fresh: list[_Fresh],
    vectors: list[list[float]],
    parts: ScorerParts,
    report: BatchReport,
    deadline: float,
) -> None:
    x = np.asarray(vectors, dtype=np.float32)
    scoring_started = time.perf_counter()
    scored = score_within_budget(x, parts.endpoint, parts.fallback, deadline)
    report.scoring_ms = (time.perf_counter() - scoring_started) * 1000
    if scored.scored_by == "fallback":
        report.fallback = len(fresh)
        report.fallback_reason = scored.error
    rules_version, outcomes = apply_rules(
        parts.rules, vectors, [f.record.transaction for f in fresh], scored.actions
    )
    decided_at = int(time.time() * 1000)
    decisions = [
        _decision(
            item.record,
            scored,
            i,
            x[i],
            parts.feature_set_version,
            decided_at,
            outcomes[i],
            rules_version,
        )
        for i, item in enumerate(fresh)
    ]
    claims = parts.decisions.claim(decisions)
    report.decided, report.resumed = len(claims.new), len(claims.resumed)
    report.duplicates += len(claims.duplicates)
    kept = {d.transaction_id: d for d in (*claims.new, *claims.resumed)}
    owned = [d for d in (kept.get(f.record.transaction.transaction_id) for f in fresh) if d]
    parts.lake.write(owned)
    report.alerts = parts.alerts.publish(owned)
    applications = [
        Application(
            card_id=f.record.transaction.card_id,
            merchant_id=f.record.transaction.merchant_id,
            shard_id=f.record.shard_id,
            sequence_number=f.record.sequence_number,
            inp=f.inp,
            merchant_at_ms=f.merchant_at_ms,
        )
        for f in fresh
        if f.record.transaction.transaction_id in kept
    ]
    saved = parts.states.save(view, applications)
    report.state_conflicts = saved.conflicts


def _decision(
    record: StreamRecord,
    scored: BatchScores,
    i: int,
    vector: np.ndarray,
    feature_set_version: str,
    decided_at: int,
    outcome: RuleOutcome,
    rules_version: str,
) -> Decision:
    txn = record.transaction
    return Decision(
        transaction_id=txn.transaction_id,
        card_id=txn.card_id,
        merchant_id=txn.merchant_id,
        event_time=txn.event_time.isoformat(),
        amount=str(txn.amount),
        currency=txn.currency,
        merchant_country=txn.merchant_country,
        mcc=txn.mcc,
        score=scored.scores[i],
        action=outcome.action,
        review_threshold=scored.thresholds[0],
        decline_threshold=scored.thresholds[1],
        model_version=scored.model_version,
        feature_set_version=feature_set_version,
        scored_by=scored.scored_by,
        explain_method=scored.explain_method if scored.reasons[i] else "",
        reason_codes=json.dumps(scored.reasons[i]) if scored.reasons[i] else "",
        shard_id=record.shard_id,
        sequence_number=record.sequence_number,
        arrived_at_ms=record.arrival_ms,
        decided_at_ms=decided_at,
        features=tuple(None if v != v else float(v) for v in vector.tolist()),
        rule_hits=outcome.hits,
        rules_version=rules_version,
        model_action=scored.actions[i],
    )
