"""The audit report shows what the rules did, and still reads decisions made before rules."""

from __future__ import annotations

import pyarrow as pa

from securebank.analytics.audit import Reproducibility, audit_frame, write_audit


def _decisions(with_rules: bool) -> pa.Table:
    base = {
        "transaction_id": ["t1", "t2"],
        "event_time": ["2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00"],
        "decided_at_ms": [1, 2],
        "card_id": ["c1", "c2"],
        "merchant_id": ["m1", "m2"],
        "amount": ["1.00", "2.00"],
        "currency": ["USD", "USD"],
        "model_version": ["3", "3"],
        "feature_set_version": ["fs", "fs"],
        "scored_by": ["endpoint", "fallback"],
        "score": [0.1, 0.2],
        "review_threshold": [0.5, 0.5],
        "decline_threshold": [0.9, 0.9],
        "action": ["approve", "decline"],
        "reason_codes": ["", ""],
        "explain_method": ["", ""],
    }
    if with_rules:
        base |= {
            "model_action": ["approve", "approve"],
            "rules_version": ["7", "7"],
            "rule_hits": [[], ["blocked-card", "card-testing"]],
        }
    return pa.table(base)


def test_audit_shows_rule_hits_and_version(tmp_path):
    frame = audit_frame(_decisions(True))
    assert frame["rule_hits"].tolist() == ["", "blocked-card card-testing"]
    assert frame["rules_version"].tolist() == ["7", "7"]
    check = Reproducibility(1, 1, 0.0, {})
    csv_path, html_path = write_audit(frame, check, tmp_path, ("a", "b"))
    assert "model_action,rules_version,rule_hits" in csv_path.read_text()
    page = html_path.read_text()
    assert "Rule-set versions: 7; rule hits: blocked-card 1, card-testing 1." in page


def test_audit_of_decisions_made_before_rules(tmp_path):
    frame = audit_frame(_decisions(False))
    assert frame["rule_hits"].tolist() == ["", ""] and frame["rules_version"].tolist() == ["", ""]
    _, html_path = write_audit(frame, Reproducibility(1, 1, 0.0, {}), tmp_path, ("a", "b"))
    assert "No rule set was active." in html_path.read_text()
