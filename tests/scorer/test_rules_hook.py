"""The scorer's rules hook: rules run after scoring, by the endpoint and in fallback; every
decision records the hits, the rule-set version and the model's own action; a newly approved
version is picked up by a running scorer."""

from __future__ import annotations

import json

from securebank.rules.ruleset import RuleHit, combine
from securebank.rules.store import RuleListStore, RuleSetStore
from securebank.scorer.assembly import build_parts
from securebank.scorer.processor import process_batch
from tests.scorer.conftest import scorer_clients
from tests.scorer.helpers import decisions, drain, kinesis_event, stream_rows

RULES_V1 = """
rules:
  - name: blocked-card
    when: card_id in list blocked_cards
    action: decline
    reason: card on the block list
  - name: large
    when: amount > 100
    action: review
    reason: large amount
"""
RULES_V2 = """
rules:
  - name: small
    when: amount < 5
    action: review
    reason: small amount
"""


def _check(made, blocked_card, version):
    for d in made:
        hits = list(d["rule_hits"])
        assert d["rules_version"] == version
        assert d["model_action"] in ("approve", "review", "decline")
        actions = {"blocked-card": "decline", "large": "review", "small": "review"}
        assert d["action"] == combine(d["model_action"], [RuleHit(h, actions[h], "") for h in hits])
        if version == "1":
            assert ("blocked-card" in hits) == (d["card_id"] == blocked_card)
            assert ("large" in hits) == (float(d["amount"]) > 100)


def test_rules_in_fallback_and_hot_reload(stream_env, trained):
    settings, aws = stream_env
    settings = settings.model_copy(update={"rules_refresh_seconds": 0.0})
    parts = build_parts(settings, scorer_clients(aws, None), endpoint=False)  # all in fallback
    dynamodb = aws.client("dynamodb")
    versions = RuleSetStore(dynamodb, aws.names.rules_table)
    lists = RuleListStore(dynamodb, aws.names.rule_lists_table)
    rows = stream_rows(trained, 300)
    blocked = rows[0]["card_id"]
    lists.add("blocked_cards", [blocked], by="alice", reason="test")
    versions.approve(versions.propose(RULES_V1, by="alice"), by="bob", reason="test")

    report = process_batch(kinesis_event(rows[:150], first_seq=1), parts)
    assert report.fallback == 150
    made = decisions(aws)
    assert len(made) == 150 and {d["scored_by"] for d in made} == {"fallback"}
    _check(made, blocked, "1")
    hit = [d for d in made if d["rule_hits"]]
    assert any("large" in d["rule_hits"] for d in hit)
    assert any(d["card_id"] == blocked and d["action"] == "decline" for d in made)
    assert any(d["model_action"] == "approve" and d["action"] == "review" for d in made)
    alerts = [json.loads(m["Body"]) for m in drain(aws, aws.names.alerts_queue)]
    assert {a["transaction_id"] for a in alerts} == {
        d["transaction_id"] for d in made if d["action"] != "approve"
    }
    assert all(a["rules_version"] == "1" for a in alerts)

    # a new version, approved while the scorer runs: the next batch uses it, no restart
    versions.approve(versions.propose(RULES_V2, by="carol"), by="bob", reason="test")
    process_batch(kinesis_event(rows[150:], first_seq=151), parts)
    later = [
        d
        for d in decisions(aws)
        if d["transaction_id"] in {r["transaction_id"] for r in rows[150:]}
    ]
    assert len(later) == 150
    _check(later, blocked, "2")
    assert any("small" in d["rule_hits"] for d in later)
    assert not any("large" in d["rule_hits"] for d in later)


def test_rules_with_the_endpoint(stream_env, model_server, trained):
    from securebank.inference.endpoint import EndpointConfig

    settings, aws = stream_env
    server, endpoint, spec = model_server
    endpoint.apply(EndpointConfig(settings.names.endpoint, (spec,)))
    parts = build_parts(settings, scorer_clients(aws, server.url))
    versions = RuleSetStore(aws.client("dynamodb"), aws.names.rules_table)
    # approved after the scorer started: picked up at its first refresh (0 s here)
    parts.rules.refresh_seconds = 0.0
    versions.approve(versions.propose(RULES_V1, by="alice"), by="bob", reason="test")
    rows = stream_rows(trained, 100)
    report = process_batch(kinesis_event(rows, first_seq=1), parts)
    assert report.fallback == 0, report.fallback_reason
    made = decisions(aws)
    assert {d["scored_by"] for d in made} == {"endpoint"}
    _check(made, None, "1")
    assert any("large" in d["rule_hits"] for d in made)
