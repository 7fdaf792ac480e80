"""Named analytics queries, written once for DuckDB (local) and Athena (AWS).

The SQL is shared; only the percentile function differs (`{p50(x)}`-style placeholders). Tables:
`decisions` (the lake's decisions, one row per transaction) and `labels` (fraud labels).
`docs/sql/athena.sql` holds the Athena rendering and the table DDL; a test keeps it current.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Dialect = Literal["duckdb", "athena"]


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


_LATENCY = "(decided_at_ms - arrived_at_ms)"
_ALERT = "CASE WHEN action IN ('review', 'decline') THEN 1 ELSE 0 END"
_FRAUD = "CASE WHEN l.transaction_id IS NOT NULL THEN 1 ELSE 0 END"

NAMED_QUERIES: tuple[NamedQuery, ...] = (
    NamedQuery(
        "rates_by_hour",
        "Decisions, alert rate and known fraud rate by hour of the transaction (UTC).",
        f"""SELECT substr(d.event_time, 1, 13) AS hour, count(*) AS decisions,
  sum({_ALERT}) AS alerts, round(avg({_ALERT}), 5) AS alert_rate,
  round(avg({_FRAUD}), 5) AS fraud_rate
FROM decisions d LEFT JOIN labels l ON d.transaction_id = l.transaction_id
GROUP BY 1 ORDER BY 1""",
    ),
    NamedQuery(
        "rates_by_mcc",
        "Alert and known fraud rate by merchant category.",
        f"""SELECT d.mcc, count(*) AS decisions, round(avg({_ALERT}), 5) AS alert_rate,
  round(avg({_FRAUD}), 5) AS fraud_rate
FROM decisions d LEFT JOIN labels l ON d.transaction_id = l.transaction_id
GROUP BY 1 ORDER BY alert_rate DESC, decisions DESC""",
    ),
    NamedQuery(
        "rates_by_country",
        "Alert and known fraud rate by merchant country.",
        f"""SELECT d.merchant_country, count(*) AS decisions, round(avg({_ALERT}), 5) AS alert_rate,
  round(avg({_FRAUD}), 5) AS fraud_rate
FROM decisions d LEFT JOIN labels l ON d.transaction_id = l.transaction_id
GROUP BY 1 ORDER BY alert_rate DESC, decisions DESC""",
    ),
    NamedQuery(
        "top_risky_merchants",
        "Merchants with the most alerts, with their mean score.",
        f"""SELECT merchant_id, count(*) AS decisions, sum({_ALERT}) AS alerts,
  round(avg(score), 4) AS mean_score
FROM decisions GROUP BY 1 HAVING sum({_ALERT}) > 0
ORDER BY alerts DESC, mean_score DESC LIMIT 20""",
    ),
    NamedQuery(
        "fallback_and_latency_by_hour",
        "Fallback rate and put-to-decision latency by hour of decision.",
        f"""SELECT substr(d.event_time, 1, 13) AS hour, count(*) AS decisions,
  round(avg(CASE WHEN scored_by = 'fallback' THEN 1 ELSE 0 END), 4) AS fallback_rate,
  {{p50({_LATENCY})}} AS p50_latency_ms, {{p99({_LATENCY})}} AS p99_latency_ms
FROM decisions d GROUP BY 1 ORDER BY 1""",
    ),
    NamedQuery(
        "by_model_version",
        "Decisions, actions and mean score by model version and scorer.",
        """SELECT model_version, scored_by, count(*) AS decisions,
  sum(CASE WHEN action = 'review' THEN 1 ELSE 0 END) AS reviews,
  sum(CASE WHEN action = 'decline' THEN 1 ELSE 0 END) AS declines,
  round(avg(score), 5) AS mean_score
FROM decisions GROUP BY 1, 2 ORDER BY 1, 2""",
    ),
)

_PERCENTILE = re.compile(r"\{p(\d+)\((.+?\))\)\}")


def render(sql: str, dialect: Dialect) -> str:
    def percentile(match: re.Match[str]) -> str:
        fraction, expression = int(match.group(1)) / 100, match.group(2)
        if dialect == "duckdb":
            return f"quantile_cont({expression}, {fraction})"
        return f"approx_percentile({expression}, {fraction})"

    return _PERCENTILE.sub(percentile, sql)


def named(name: str) -> NamedQuery:
    for query in NAMED_QUERIES:
        if query.name == name:
            return query
    known = ", ".join(q.name for q in NAMED_QUERIES)
    raise KeyError(f"no named query {name!r}; known: {known}")


ATHENA_DDL = """CREATE EXTERNAL TABLE IF NOT EXISTS decisions (
  transaction_id string, card_id string, merchant_id string, event_time string, amount string,
  currency string, merchant_country string, mcc string, score double, action string,
  review_threshold double, decline_threshold double, model_version string,
  feature_set_version string, scored_by string, explain_method string, reason_codes string,
  shard_id string, sequence_number string, arrived_at_ms bigint, decided_at_ms bigint,
  features array<double>
)
PARTITIONED BY (date string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://${LAKE_BUCKET}/decisions/'
TBLPROPERTIES ('projection.enabled'='true', 'projection.date.type'='date',
  'projection.date.format'='yyyy-MM-dd', 'projection.date.range'='2024-01-01,NOW',
  'storage.location.template'='s3://${LAKE_BUCKET}/decisions/date=${date}/');

CREATE EXTERNAL TABLE IF NOT EXISTS labels (transaction_id string, is_fraud boolean,
  reported_at timestamp, fraud_scenario string)
STORED AS PARQUET LOCATION 's3://${LAKE_BUCKET}/raw/labels/';"""


def athena_document() -> str:
    """docs/sql/athena.sql: the DDL and every named query in Athena's dialect."""
    parts = ["-- Generated from securebank/analytics/queries.py; do not edit by hand.", ATHENA_DDL]
    for query in NAMED_QUERIES:
        parts.append(f"-- {query.name}: {query.description}\n{render(query.sql, 'athena')};")
    return "\n\n".join(parts) + "\n"
