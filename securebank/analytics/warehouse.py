"""The BI warehouse: one schema and one set of KPI views, for Redshift (AWS) and DuckDB (local).

Tables live in schema `fraud`: `transactions`, `decisions`, `labels` and `cases`. Column types
are written once in the subset both engines read the same way (VARCHAR(n), BIGINT, DOUBLE
PRECISION, DECIMAL(18,4), BOOLEAN, TIMESTAMP in UTC); Redshift adds distribution and sort keys.
The views' SQL is shared; the few functions that differ are `{name(args)}` placeholders rendered
per dialect (`render`). `docs/sql/redshift.sql` holds the Redshift rendering with the load from
the lake (external schema over the Glue catalog); a test keeps it current and runs the DuckDB
rendering on a warehouse built from the lake.

Labels keep their history (an analyst's "legit" and a later chargeback are two rows); the views
read the latest label per transaction by `reported_at`. Cases follow issue 14's lifecycle (open →
assigned → resolved, outcome fraud|legit|unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Dialect = Literal["duckdb", "redshift"]
SCHEMA = "fraud"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str = ""


@dataclass(frozen=True)
class WarehouseTable:
    name: str
    description: str
    columns: tuple[Column, ...]
    distkey: str
    sortkey: str

    @property
    def qualified(self) -> str:
        return f"{SCHEMA}.{self.name}"


_ID = "VARCHAR(64)"
_TS = "TIMESTAMP"

TABLES: tuple[WarehouseTable, ...] = (
    WarehouseTable(
        "transactions",
        "Every transaction the platform received (the lake's raw/transactions), one row each.",
        (
            Column("transaction_id", _ID),
            Column("event_time", _TS, "when the card was used (UTC)"),
            Column("card_id", _ID, "card token, never a card number"),
            Column("customer_id", _ID),
            Column("merchant_id", _ID),
            Column("mcc", "VARCHAR(4)"),
            Column("amount", "DECIMAL(18,4)"),
            Column("currency", "VARCHAR(3)"),
            Column("merchant_country", "VARCHAR(2)"),
            Column("channel", "VARCHAR(16)"),
            Column("device_id", _ID),
            Column("status", "VARCHAR(16)"),
        ),
        distkey="transaction_id",
        sortkey="event_time",
    ),
    WarehouseTable(
        "decisions",
        "The scorer's decision per transaction (the first, the lake is written at least once).",
        (
            Column("transaction_id", _ID),
            Column("card_id", _ID),
            Column("merchant_id", _ID),
            Column("event_time", "VARCHAR(40)", "as the transaction stated it"),
            Column("amount", "DECIMAL(18,4)"),
            Column("currency", "VARCHAR(3)"),
            Column("merchant_country", "VARCHAR(2)"),
            Column("mcc", "VARCHAR(4)"),
            Column("score", "DOUBLE PRECISION"),
            Column("action", "VARCHAR(16)", "approve, review or decline"),
            Column("review_threshold", "DOUBLE PRECISION"),
            Column("decline_threshold", "DOUBLE PRECISION"),
            Column("model_version", "VARCHAR(16)"),
            Column("feature_set_version", "VARCHAR(32)"),
            Column("scored_by", "VARCHAR(16)", "endpoint or fallback"),
            Column("reason_codes", "VARCHAR(4096)", "JSON list of the top contributions"),
            Column("arrived_at_ms", "BIGINT"),
            Column("decided_at_ms", "BIGINT"),
            Column("decided_at", _TS, "decision time (UTC)"),
        ),
        distkey="transaction_id",
        sortkey="decided_at",
    ),
    WarehouseTable(
        "labels",
        "Fraud outcomes with their history: batch imports, analyst outcomes and chargebacks.",
        (
            Column("transaction_id", _ID),
            Column("is_fraud", "BOOLEAN"),
            Column("reported_at", _TS, "when the outcome became known"),
            Column("source", "VARCHAR(16)", "import, analyst or chargeback"),
        ),
        distkey="transaction_id",
        sortkey="reported_at",
    ),
    WarehouseTable(
        "cases",
        "Review and decline alerts worked by analysts (issue 14): open → assigned → resolved.",
        (
            Column("case_id", _ID),
            Column("transaction_id", _ID),
            Column("status", "VARCHAR(16)", "open, assigned or resolved"),
            Column("action", "VARCHAR(16)", "the decision that opened it"),
            Column("score", "DOUBLE PRECISION"),
            Column("assignee", "VARCHAR(128)"),
            Column("outcome", "VARCHAR(16)", "fraud, legit or unknown once resolved"),
            Column("created_at", _TS),
            Column("resolved_at", _TS),
        ),
        distkey="transaction_id",
        sortkey="created_at",
    ),
)


def table(name: str) -> WarehouseTable:
    return next(t for t in TABLES if t.name == name)


@dataclass(frozen=True)
class View:
    name: str
    description: str
    sql: str
    order_by: str

    @property
    def qualified(self) -> str:
        return f"{SCHEMA}.{self.name}"

    @property
    def select_all(self) -> str:
        """The view's rows in its order."""
        return f"SELECT * FROM {self.qualified} ORDER BY {self.order_by}"


_LATEST_LABEL = f"""latest_label AS (
  SELECT transaction_id, is_fraud FROM (
    SELECT transaction_id, is_fraud, ROW_NUMBER() OVER (
      PARTITION BY transaction_id ORDER BY reported_at DESC, source) AS rank_
    FROM {SCHEMA}.labels) ranked
  WHERE rank_ = 1)"""
_ALERT = "CASE WHEN d.action IN ('review', 'decline') THEN 1 ELSE 0 END"
_FRAUD = "CASE WHEN l.is_fraud THEN 1 ELSE 0 END"
_CAUGHT = "CASE WHEN l.is_fraud AND d.action IN ('review', 'decline') THEN 1 ELSE 0 END"


def _ratio(numerator: str, denominator: str) -> str:
    return f"ROUND(CAST({numerator} AS DOUBLE PRECISION) / NULLIF({denominator}, 0), 5)"


VIEWS: tuple[View, ...] = (
    View(
        "daily_kpis",
        "Per decision day: volume, actions, alert and fallback rates, latency, and fraud caught "
        "among labelled transactions (precision, recall, amount).",
        f"""WITH {_LATEST_LABEL}
SELECT CAST(d.decided_at AS DATE) AS decision_date,
  COUNT(*) AS decisions,
  SUM(CASE WHEN d.action = 'approve' THEN 1 ELSE 0 END) AS approves,
  SUM(CASE WHEN d.action = 'review' THEN 1 ELSE 0 END) AS reviews,
  SUM(CASE WHEN d.action = 'decline' THEN 1 ELSE 0 END) AS declines,
  {_ratio(f"SUM({_ALERT})", "COUNT(*)")} AS alert_rate,
  {_ratio("SUM(CASE WHEN d.scored_by = 'fallback' THEN 1 ELSE 0 END)", "COUNT(*)")}
    AS fallback_rate,
  {{p50(d.decided_at_ms - d.arrived_at_ms)}} AS p50_latency_ms,
  {{p99(d.decided_at_ms - d.arrived_at_ms)}} AS p99_latency_ms,
  COUNT(l.transaction_id) AS labelled,
  SUM({_FRAUD}) AS frauds,
  SUM({_CAUGHT}) AS frauds_alerted,
  {_ratio(f"SUM({_CAUGHT})", f"SUM(CASE WHEN l.transaction_id IS NOT NULL THEN {_ALERT} END)")}
    AS precision_labelled,
  {_ratio(f"SUM({_CAUGHT})", f"SUM({_FRAUD})")} AS recall,
  SUM(d.amount) AS amount,
  SUM(CASE WHEN l.is_fraud THEN d.amount ELSE 0 END) AS fraud_amount,
  SUM(CASE WHEN l.is_fraud AND d.action = 'decline' THEN d.amount ELSE 0 END)
    AS fraud_amount_declined
FROM {SCHEMA}.decisions d LEFT JOIN latest_label l ON d.transaction_id = l.transaction_id
GROUP BY 1""",
        "decision_date",
    ),
    View(
        "daily_model_versions",
        "Per decision day and model version: volume, alert rate, mean score, precision, recall.",
        f"""WITH {_LATEST_LABEL}
SELECT CAST(d.decided_at AS DATE) AS decision_date, d.model_version, d.scored_by,
  COUNT(*) AS decisions,
  {_ratio(f"SUM({_ALERT})", "COUNT(*)")} AS alert_rate,
  ROUND(AVG(d.score), 5) AS mean_score,
  {_ratio(f"SUM({_CAUGHT})", f"SUM(CASE WHEN l.transaction_id IS NOT NULL THEN {_ALERT} END)")}
    AS precision_labelled,
  {_ratio(f"SUM({_CAUGHT})", f"SUM({_FRAUD})")} AS recall
FROM {SCHEMA}.decisions d LEFT JOIN latest_label l ON d.transaction_id = l.transaction_id
GROUP BY 1, 2, 3""",
        "decision_date, model_version, scored_by",
    ),
    View(
        "daily_cases",
        "Per day the cases were opened: volume, still open, resolved, outcomes, hours to resolve.",
        f"""SELECT CAST(c.created_at AS DATE) AS case_date,
  COUNT(*) AS cases,
  SUM(CASE WHEN c.status <> 'resolved' THEN 1 ELSE 0 END) AS unresolved,
  SUM(CASE WHEN c.status = 'resolved' THEN 1 ELSE 0 END) AS resolved,
  SUM(CASE WHEN c.outcome = 'fraud' THEN 1 ELSE 0 END) AS confirmed_fraud,
  SUM(CASE WHEN c.outcome = 'legit' THEN 1 ELSE 0 END) AS false_positives,
  {
            _ratio(
                "SUM(CASE WHEN c.outcome = 'fraud' THEN 1 ELSE 0 END)",
                "SUM(CASE WHEN c.outcome IN ('fraud', 'legit') THEN 1 ELSE 0 END)",
            )
        }
    AS case_precision,
  ROUND(AVG(CASE WHEN c.resolved_at IS NOT NULL
    THEN {{seconds_between(c.created_at, c.resolved_at)}} / 3600.0 END), 2)
    AS mean_hours_to_resolve
FROM {SCHEMA}.cases c
GROUP BY 1""",
        "case_date",
    ),
)

_PLACEHOLDER = re.compile(r"\{(p\d+|seconds_between)\((.+?)\)\}")


def render(sql: str, dialect: Dialect) -> str:
    """Replace the dialect-specific placeholders: percentiles and time differences."""

    def replace(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2)
        if name == "seconds_between":
            start, end = (a.strip() for a in args.split(","))
            part = "'second'" if dialect == "duckdb" else "second"
            return f"DATEDIFF({part}, {start}, {end})"
        fraction = int(name[1:]) / 100
        return f"PERCENTILE_CONT({fraction}) WITHIN GROUP (ORDER BY {args})"

    return _PLACEHOLDER.sub(replace, sql)


def create_table(t: WarehouseTable, dialect: Dialect) -> str:
    columns = ",\n".join(f"  {c.name} {c.type}" for c in t.columns)
    keys = f"\nDISTKEY({t.distkey}) SORTKEY({t.sortkey})" if dialect == "redshift" else ""
    return f"CREATE TABLE IF NOT EXISTS {t.qualified} (\n{columns}\n){keys}"


def create_view(v: View, dialect: Dialect) -> str:
    # Redshift binds a plain view to its tables; WITH NO SCHEMA BINDING lets a reload replace
    # the tables underneath (and is required for views over external tables).
    binding = "\nWITH NO SCHEMA BINDING" if dialect == "redshift" else ""
    return f"CREATE OR REPLACE VIEW {v.qualified} AS\n{render(v.sql, dialect)}{binding}"


def schema_ddl(dialect: Dialect) -> list[str]:
    """Every statement that creates the schema, its tables and its views."""
    return (
        [f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"]
        + [create_table(t, dialect) for t in TABLES]
        + [create_view(v, dialect) for v in VIEWS]
    )


#: Redshift: the lake through an external schema over the Glue catalog (tables from
#: terraform/glue.tf), loaded per day; the `${...}` values come from terraform output.
REDSHIFT_LOAD = f"""CREATE EXTERNAL SCHEMA IF NOT EXISTS lake
FROM DATA CATALOG DATABASE '${{GLUE_DATABASE}}'
IAM_ROLE '${{REDSHIFT_ROLE_ARN}}';

-- One day (${{DAY}}, YYYY-MM-DD), idempotent: delete the day, insert it again.
BEGIN;
DELETE FROM {SCHEMA}.decisions
  WHERE decided_at >= '${{DAY}}' AND decided_at < DATEADD(day, 1, '${{DAY}}');
INSERT INTO {SCHEMA}.decisions
SELECT transaction_id, card_id, merchant_id, event_time, CAST(amount AS DECIMAL(18,4)), currency,
  merchant_country, mcc, score, action, review_threshold, decline_threshold, model_version,
  feature_set_version, scored_by, reason_codes, arrived_at_ms, decided_at_ms, decided_at
FROM lake.decisions_compacted c
WHERE c."date" = '${{DAY}}'
  AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.decisions d WHERE d.transaction_id = c.transaction_id);
DELETE FROM {SCHEMA}.transactions
  WHERE event_time >= '${{DAY}}' AND event_time < DATEADD(day, 1, '${{DAY}}');
INSERT INTO {SCHEMA}.transactions
SELECT transaction_id, event_time, card_id, customer_id, merchant_id, mcc, amount, currency,
  merchant_country, channel, device_id, status
FROM lake.transactions t WHERE t."date" = '${{DAY}}';
COMMIT;

-- Labels are small and keep their history: reload them whole.
BEGIN;
DELETE FROM {SCHEMA}.labels;
INSERT INTO {SCHEMA}.labels
SELECT transaction_id, is_fraud, reported_at, 'import' FROM lake.labels;
COMMIT;"""


def redshift_document() -> str:
    """docs/sql/redshift.sql: schema, views and the load, in Redshift's dialect."""
    parts = [
        "-- Generated from securebank/analytics/warehouse.py; do not edit by hand.",
        "-- The same schema and views run locally in DuckDB: `securebank warehouse load`.",
    ]
    parts += [statement + ";" for statement in schema_ddl("redshift")]
    parts.append(REDSHIFT_LOAD)
    return "\n\n".join(parts) + "\n"
