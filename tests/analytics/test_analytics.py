"""SQL over the lake, PSI, the audit's reproducibility check and the run report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from securebank.analytics.drift import drift_report, psi
from securebank.analytics.engine import connect, run
from securebank.analytics.queries import NAMED_QUERIES, athena_document, named, render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sql" / "athena.sql"


def _decisions(rows):
    base = {
        "card_id": "c",
        "merchant_id": "m1",
        "amount": "10.00",
        "currency": "USD",
        "merchant_country": "US",
        "mcc": "5411",
        "review_threshold": 0.5,
        "decline_threshold": 0.9,
        "model_version": "1",
        "feature_set_version": "fs-x",
        "scored_by": "endpoint",
        "explain_method": "",
        "reason_codes": "",
        "shard_id": "s",
        "sequence_number": "1",
    }
    return pa.Table.from_pylist([{**base, **r} for r in rows])


ROWS = [
    {
        "transaction_id": "t1",
        "event_time": "2026-09-01T10:05:00+00:00",
        "score": 0.95,
        "action": "decline",
        "arrived_at_ms": 0,
        "decided_at_ms": 40,
        "merchant_id": "m1",
    },
    {
        "transaction_id": "t2",
        "event_time": "2026-09-01T10:30:00+00:00",
        "score": 0.10,
        "action": "approve",
        "arrived_at_ms": 0,
        "decided_at_ms": 60,
        "merchant_id": "m2",
        "scored_by": "fallback",
    },
    {
        "transaction_id": "t3",
        "event_time": "2026-09-01T11:00:00+00:00",
        "score": 0.60,
        "action": "review",
        "arrived_at_ms": 0,
        "decided_at_ms": 80,
        "merchant_id": "m1",
        "mcc": "5999",
    },
    {
        "transaction_id": "t4",
        "event_time": "2026-09-01T11:10:00+00:00",
        "score": 0.01,
        "action": "approve",
        "arrived_at_ms": 0,
        "decided_at_ms": 100,
        "merchant_id": "m3",
        "model_version": "2",
    },
]
LABELS = pa.table({"transaction_id": ["t1", "t2"], "is_fraud": [True, True]})


def _named(name):
    return run(connect(_decisions(ROWS), LABELS), render(named(name).sql, "duckdb")).to_pylist()


def test_rates_by_hour_by_hand():
    assert _named("rates_by_hour") == [
        {
            "hour": "2026-09-01T10",
            "decisions": 2,
            "alerts": 1,
            "alert_rate": 0.5,
            "fraud_rate": 1.0,
        },
        {
            "hour": "2026-09-01T11",
            "decisions": 2,
            "alerts": 1,
            "alert_rate": 0.5,
            "fraud_rate": 0.0,
        },
    ]


def test_top_risky_merchants_and_versions_and_latency():
    merchants = _named("top_risky_merchants")
    assert [m["merchant_id"] for m in merchants] == ["m1"] and merchants[0]["alerts"] == 2
    versions = {
        (v["model_version"], v["scored_by"]): v["decisions"] for v in _named("by_model_version")
    }
    assert versions == {("1", "endpoint"): 2, ("1", "fallback"): 1, ("2", "endpoint"): 1}
    hours = _named("fallback_and_latency_by_hour")
    assert hours[0]["fallback_rate"] == 0.5 and hours[0]["p50_latency_ms"] == 50.0


def test_every_named_query_runs_and_the_athena_file_is_current():
    con = connect(_decisions(ROWS), LABELS)
    for query in NAMED_QUERIES:
        assert run(con, render(query.sql, "duckdb")).num_rows >= 1
        assert "{p" not in render(query.sql, "athena")
    assert DOCS.read_text() == athena_document(), "regenerate docs/sql/athena.sql"
    with pytest.raises(KeyError, match="no named query 'nope'"):
        named("nope")


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=20_000), rng.normal(size=20_000)
    assert psi(a, b) < 0.01
    assert psi(a, b + 1.0) > 0.5
    with_missing = b.copy()
    with_missing[:5000] = np.nan
    assert psi(a, with_missing) > 0.2  # a feature going missing is drift
    report = drift_report(["x", "y"], np.c_[a, a], np.c_[b, b * 3])
    assert [d.name for d in report] == ["y", "x"] and report[0].status == "drift"


def test_audit_reproducibility_detects_a_changed_score(tmp_path):
    import xgboost as xgb

    from securebank.analytics.audit import audit_frame, check_reproducibility, write_audit
    from securebank.model_artifact import FraudModel, ModelManifest

    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x, label=x[:, 0] > 0), 10)
    model = FraudModel(booster, ModelManifest(["a", "b", "c"], "fs-x", 0.5, 0.9, "r", {}))
    scores = booster.inplace_predict(x)
    rows = [
        dict(r, features=[float(v) for v in x[i]], score=float(scores[i]))
        for i, r in enumerate(ROWS)
    ]
    decisions = _decisions(rows)
    good = check_reproducibility(decisions, lambda version: model)
    assert good.passed and good.checked == 4
    rows[2]["score"] += 0.01
    bad = check_reproducibility(_decisions(rows), lambda version: model)
    assert not bad.passed and bad.matching == 3
    csv_path, html_path = write_audit(audit_frame(decisions), good, tmp_path, ("a", "b"))
    assert csv_path.read_text().count("\n") == 5
    assert "Reproducibility: PASSED" in html_path.read_text()


def test_run_report_embeds_plots_and_alerts(tmp_path):
    from securebank.analytics.report import write_report

    rows = [
        dict(r, reason_codes=json.dumps([{"feature": "amount_usd", "contribution": 1.5}]))
        for r in ROWS
    ]
    path = write_report(tmp_path / "run.html", _decisions(rows), None, {})
    page = path.read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "amount_usd (+1.50)" in page and "t1" in page
