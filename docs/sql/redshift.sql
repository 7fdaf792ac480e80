-- Generated from securebank/analytics/warehouse.py; do not edit by hand.

-- The same schema and views run locally in DuckDB: `securebank warehouse load`.

CREATE SCHEMA IF NOT EXISTS fraud;

CREATE TABLE IF NOT EXISTS fraud.transactions (
  transaction_id VARCHAR(64),
  event_time TIMESTAMP,
  card_id VARCHAR(64),
  customer_id VARCHAR(64),
  merchant_id VARCHAR(64),
  mcc VARCHAR(4),
  amount DECIMAL(18,4),
  currency VARCHAR(3),
  merchant_country VARCHAR(2),
  channel VARCHAR(16),
  device_id VARCHAR(64),
  status VARCHAR(16)
)
DISTKEY(transaction_id) SORTKEY(event_time);

CREATE TABLE IF NOT EXISTS fraud.decisions (
  transaction_id VARCHAR(64),
  card_id VARCHAR(64),
  merchant_id VARCHAR(64),
  event_time VARCHAR(40),
  amount DECIMAL(18,4),
  currency VARCHAR(3),
  merchant_country VARCHAR(2),
  mcc VARCHAR(4),
  score DOUBLE PRECISION,
  action VARCHAR(16),
  review_threshold DOUBLE PRECISION,
  decline_threshold DOUBLE PRECISION,
  model_version VARCHAR(16),
  feature_set_version VARCHAR(32),
  scored_by VARCHAR(16),
  reason_codes VARCHAR(4096),
  arrived_at_ms BIGINT,
  decided_at_ms BIGINT,
  decided_at TIMESTAMP
)
DISTKEY(transaction_id) SORTKEY(decided_at);

CREATE TABLE IF NOT EXISTS fraud.labels (
  transaction_id VARCHAR(64),
  is_fraud BOOLEAN,
  reported_at TIMESTAMP,
  source VARCHAR(16)
)
DISTKEY(transaction_id) SORTKEY(reported_at);

CREATE TABLE IF NOT EXISTS fraud.cases (
  case_id VARCHAR(64),
  transaction_id VARCHAR(64),
  status VARCHAR(16),
  action VARCHAR(16),
  score DOUBLE PRECISION,
  assignee VARCHAR(128),
  outcome VARCHAR(16),
  created_at TIMESTAMP,
  resolved_at TIMESTAMP
)
DISTKEY(transaction_id) SORTKEY(created_at);

CREATE OR REPLACE VIEW fraud.daily_kpis AS
WITH latest_label AS (
  SELECT transaction_id, is_fraud FROM (
    SELECT transaction_id, is_fraud, ROW_NUMBER() OVER (
      PARTITION BY transaction_id ORDER BY reported_at DESC, source) AS rank_
    FROM fraud.labels) ranked
  WHERE rank_ = 1)
SELECT CAST(d.decided_at AS DATE) AS decision_date,
  COUNT(*) AS decisions,
  SUM(CASE WHEN d.action = 'approve' THEN 1 ELSE 0 END) AS approves,
  SUM(CASE WHEN d.action = 'review' THEN 1 ELSE 0 END) AS reviews,
  SUM(CASE WHEN d.action = 'decline' THEN 1 ELSE 0 END) AS declines,
  ROUND(CAST(SUM(CASE WHEN d.action IN ('review', 'decline') THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / NULLIF(COUNT(*), 0), 5) AS alert_rate,
  ROUND(CAST(SUM(CASE WHEN d.scored_by = 'fallback' THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / NULLIF(COUNT(*), 0), 5)
    AS fallback_rate,
  PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY d.decided_at_ms - d.arrived_at_ms) AS p50_latency_ms,
  PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY d.decided_at_ms - d.arrived_at_ms) AS p99_latency_ms,
  COUNT(l.transaction_id) AS labelled,
  SUM(CASE WHEN l.is_fraud THEN 1 ELSE 0 END) AS frauds,
  SUM(CASE WHEN l.is_fraud AND d.action IN ('review', 'decline') THEN 1 ELSE 0 END) AS frauds_alerted,
  ROUND(CAST(SUM(CASE WHEN l.is_fraud AND d.action IN ('review', 'decline') THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / NULLIF(SUM(CASE WHEN l.transaction_id IS NOT NULL THEN CASE WHEN d.action IN ('review', 'decline') THEN 1 ELSE 0 END END), 0), 5)
    AS precision_labelled,
  ROUND(CAST(SUM(CASE WHEN l.is_fraud AND d.action IN ('review', 'decline') THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / NULLIF(SUM(CASE WHEN l.is_fraud THEN 1 ELSE 0 END), 0), 5) AS recall,
  SUM(d.amount) AS amount,
  SUM(CASE WHEN l.is_fraud THEN d.amount ELSE 0 END) AS fraud_amount,
  SUM(CASE WHEN l.is_fraud AND d.action = 'decline' THEN d.amount ELSE 0 END)
    AS fraud_amount_declined
FROM fraud.decisions d LEFT JOIN latest_label l ON d.transaction_id = l.transaction_id
GROUP BY 1
WITH NO SCHEMA BINDING;

CREATE OR REPLACE VIEW fraud.daily_model_versions AS
WITH latest_label AS (
  SELECT transaction_id, is_fraud FROM (
    SELECT transaction_id, is_fraud, ROW_NUMBER() OVER (
      PARTITION BY transaction_id ORDER BY reported_at DESC, source) AS rank_
    FROM fraud.labels) ranked
  WHERE rank_ = 1)
SELECT CAST(d.decided_at AS DATE) AS decision_date, d.model_version, d.scored_by,
  COUNT(*) AS decisions,
  ROUND(CAST(SUM(CASE WHEN d.action IN ('review', 'decline') THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / NULLIF(COUNT(*), 0), 5) AS alert_rate,
  ROUND(AVG(d.score), 5) AS mean_score,
  ROUND(CAST(SUM(CASE WHEN l.is_fraud AND d.action IN ('review', 'decline') THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / NULLIF(SUM(CASE WHEN l.transaction_id IS NOT NULL THEN CASE WHEN d.action IN ('review', 'decline') THEN 1 ELSE 0 END END), 0), 5)
    AS precision_labelled,
  ROUND(CAST(SUM(CASE WHEN l.is_fraud AND d.action IN ('review', 'decline') THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / NULLIF(SUM(CASE WHEN l.is_fraud THEN 1 ELSE 0 END), 0), 5) AS recall
FROM fraud.decisions d LEFT JOIN latest_label l ON d.transaction_id = l.transaction_id
GROUP BY 1, 2, 3
WITH NO SCHEMA BINDING;

CREATE OR REPLACE VIEW fraud.daily_cases AS
SELECT CAST(c.created_at AS DATE) AS case_date,
  COUNT(*) AS cases,
  SUM(CASE WHEN c.status <> 'resolved' THEN 1 ELSE 0 END) AS unresolved,
  SUM(CASE WHEN c.status = 'resolved' THEN 1 ELSE 0 END) AS resolved,
  SUM(CASE WHEN c.outcome = 'fraud' THEN 1 ELSE 0 END) AS confirmed_fraud,
  SUM(CASE WHEN c.outcome = 'legit' THEN 1 ELSE 0 END) AS false_positives,
  ROUND(CAST(SUM(CASE WHEN c.outcome = 'fraud' THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / NULLIF(SUM(CASE WHEN c.outcome IN ('fraud', 'legit') THEN 1 ELSE 0 END), 0), 5)
    AS case_precision,
  ROUND(AVG(CASE WHEN c.resolved_at IS NOT NULL
    THEN DATEDIFF(second, c.created_at, c.resolved_at) / 3600.0 END), 2)
    AS mean_hours_to_resolve
FROM fraud.cases c
GROUP BY 1
WITH NO SCHEMA BINDING;

CREATE EXTERNAL SCHEMA IF NOT EXISTS lake
FROM DATA CATALOG DATABASE '${GLUE_DATABASE}'
IAM_ROLE '${REDSHIFT_ROLE_ARN}';

-- One day (${DAY}, YYYY-MM-DD), idempotent: delete the day, insert it again.
BEGIN;
DELETE FROM fraud.decisions
  WHERE decided_at >= '${DAY}' AND decided_at < DATEADD(day, 1, '${DAY}');
INSERT INTO fraud.decisions
SELECT transaction_id, card_id, merchant_id, event_time, CAST(amount AS DECIMAL(18,4)), currency,
  merchant_country, mcc, score, action, review_threshold, decline_threshold, model_version,
  feature_set_version, scored_by, reason_codes, arrived_at_ms, decided_at_ms, decided_at
FROM lake.decisions_compacted c
WHERE c."date" = '${DAY}'
  AND NOT EXISTS (SELECT 1 FROM fraud.decisions d WHERE d.transaction_id = c.transaction_id);
DELETE FROM fraud.transactions
  WHERE event_time >= '${DAY}' AND event_time < DATEADD(day, 1, '${DAY}');
INSERT INTO fraud.transactions
SELECT transaction_id, event_time, card_id, customer_id, merchant_id, mcc, amount, currency,
  merchant_country, channel, device_id, status
FROM lake.transactions t WHERE t."date" = '${DAY}';
COMMIT;

-- Labels are small and keep their history: reload them whole.
BEGIN;
DELETE FROM fraud.labels;
INSERT INTO fraud.labels
SELECT transaction_id, is_fraud, reported_at, 'import' FROM lake.labels;
COMMIT;
