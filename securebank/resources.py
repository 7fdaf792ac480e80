"""The names of every AWS resource the platform uses, derived from one prefix and environment.

The local stack creates exactly these, and terraform/ names its resources with the same rule
(`"${var.prefix}-${var.environment}-..."`), so code, local AWS and the deployment agree.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Kinesis shards of the transaction stream (terraform's default `stream_shard_count`).
STREAM_SHARDS = 2
#: TTL attribute of the feature-state table; GSI of the decisions table.
STATE_TTL_ATTRIBUTE = "expires_at"
DECISIONS_BY_CARD_INDEX = "by-card"
#: GSI of the cases table (status, created_at): the analysts' queue.
CASES_BY_STATUS_INDEX = "by-status"


@dataclass(frozen=True, slots=True)
class ResourceNames:
    prefix: str = "securebank"
    environment: str = "local"

    @property
    def base(self) -> str:
        return f"{self.prefix}-{self.environment}"

    @property
    def lake_bucket(self) -> str:
        """Raw transactions, labels, decisions (the data lake)."""
        return f"{self.base}-lake"

    @property
    def artifacts_bucket(self) -> str:
        """Pipeline step outputs, model artifacts, evaluations."""
        return f"{self.base}-artifacts"

    @property
    def model_package_group(self) -> str:
        return f"{self.base}-fraud-model"

    @property
    def pipeline(self) -> str:
        return f"{self.base}-training"

    @property
    def endpoint(self) -> str:
        return f"{self.base}-fraud-endpoint"

    @property
    def stream(self) -> str:
        """Kinesis stream of incoming transactions (partition key: card_id)."""
        return f"{self.base}-transactions"

    @property
    def feature_table(self) -> str:
        """Online feature state: one item per card and merchant (key `pk`, TTL `expires_at`)."""
        return f"{self.base}-feature-state"

    @property
    def decisions_table(self) -> str:
        """One item per decided transaction (key `transaction_id`; GSI by card and time)."""
        return f"{self.base}-decisions"

    @property
    def rules_table(self) -> str:
        """Rule-set versions, their approvals and the active pointer (key `pk`)."""
        return f"{self.base}-rules"

    @property
    def rule_lists_table(self) -> str:
        """Named lists the rules read (keys `list_name`, `value`)."""
        return f"{self.base}-rule-lists"

    @property
    def cases_table(self) -> str:
        """One item per case (key `case_id` = transaction id; GSI by status and creation)."""
        return f"{self.base}-cases"

    @property
    def labels_table(self) -> str:
        """One item per labelled transaction, with its history (key `transaction_id`); its
        stream feeds the online merchant state."""
        return f"{self.base}-labels"

    @property
    def idempotency_table(self) -> str:
        """Ingest API claims on transaction_id (key `transaction_id`, TTL `expires_at`)."""
        return f"{self.base}-ingest-idempotency"

    @property
    def alerts_topic(self) -> str:
        return f"{self.base}-alerts"

    @property
    def alerts_queue(self) -> str:
        """SQS queue subscribed to the alerts topic: the case-handling inbox."""
        return f"{self.base}-alerts-cases"

    @property
    def dead_letter_queue(self) -> str:
        """Invalid transactions, each with the reason it was refused."""
        return f"{self.base}-invalid-transactions"

    @property
    def stream_failure_queue(self) -> str:
        """On-failure destination of the event source mapping (batches that exhausted retries)."""
        return f"{self.base}-stream-failures"

    def queues(self) -> tuple[str, ...]:
        return (self.alerts_queue, self.dead_letter_queue, self.stream_failure_queue)

    def buckets(self) -> tuple[str, ...]:
        return (self.lake_bucket, self.artifacts_bucket)
