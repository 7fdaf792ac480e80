-- Generated from securebank/analytics/queries.py; do not edit by hand.

CREATE EXTERNAL TABLE IF NOT EXISTS decisions (
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
STORED AS PARQUET LOCATION 's3://${LAKE_BUCKET}/raw/labels/';

-- rates_by_hour: Decisions, alert rate and known fraud rate by hour of the transaction (UTC).
SELECT substr(d.event_time, 1, 13) AS hour, count(*) AS decisions,
  sum(CASE WHEN action IN ('review', 'decline') THEN 1 ELSE 0 END) AS alerts, round(avg(CASE WHEN action IN ('review', 'decline') THEN 1 ELSE 0 END), 5) AS alert_rate,
  round(avg(CASE WHEN l.transaction_id IS NOT NULL THEN 1 ELSE 0 END), 5) AS fraud_rate
FROM decisions d LEFT JOIN labels l ON d.transaction_id = l.transaction_id
GROUP BY 1 ORDER BY 1;

-- rates_by_mcc: Alert and known fraud rate by merchant category.
SELECT d.mcc, count(*) AS decisions, round(avg(CASE WHEN action IN ('review', 'decline') THEN 1 ELSE 0 END), 5) AS alert_rate,
  round(avg(CASE WHEN l.transaction_id IS NOT NULL THEN 1 ELSE 0 END), 5) AS fraud_rate
FROM decisions d LEFT JOIN labels l ON d.transaction_id = l.transaction_id
GROUP BY 1 ORDER BY alert_rate DESC, decisions DESC;

-- rates_by_country: Alert and known fraud rate by merchant country.
SELECT d.merchant_country, count(*) AS decisions, round(avg(CASE WHEN action IN ('review', 'decline') THEN 1 ELSE 0 END), 5) AS alert_rate,
  round(avg(CASE WHEN l.transaction_id IS NOT NULL THEN 1 ELSE 0 END), 5) AS fraud_rate
FROM decisions d LEFT JOIN labels l ON d.transaction_id = l.transaction_id
GROUP BY 1 ORDER BY alert_rate DESC, decisions DESC;

-- top_risky_merchants: Merchants with the most alerts, with their mean score.
SELECT merchant_id, count(*) AS decisions, sum(CASE WHEN action IN ('review', 'decline') THEN 1 ELSE 0 END) AS alerts,
  round(avg(score), 4) AS mean_score
FROM decisions GROUP BY 1 HAVING sum(CASE WHEN action IN ('review', 'decline') THEN 1 ELSE 0 END) > 0
ORDER BY alerts DESC, mean_score DESC LIMIT 20;

-- fallback_and_latency_by_hour: Fallback rate and put-to-decision latency by hour of decision.
SELECT substr(d.event_time, 1, 13) AS hour, count(*) AS decisions,
  round(avg(CASE WHEN scored_by = 'fallback' THEN 1 ELSE 0 END), 4) AS fallback_rate,
  approx_percentile((decided_at_ms - arrived_at_ms), 0.5) AS p50_latency_ms, approx_percentile((decided_at_ms - arrived_at_ms), 0.99) AS p99_latency_ms
FROM decisions d GROUP BY 1 ORDER BY 1;

-- by_model_version: Decisions, actions and mean score by model version and scorer.
SELECT model_version, scored_by, count(*) AS decisions,
  sum(CASE WHEN action = 'review' THEN 1 ELSE 0 END) AS reviews,
  sum(CASE WHEN action = 'decline' THEN 1 ELSE 0 END) AS declines,
  round(avg(score), 5) AS mean_score
FROM decisions GROUP BY 1, 2 ORDER BY 1, 2;
