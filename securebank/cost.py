"""What the live path costs on AWS a month, from what one transaction uses in a real run.

`CallMeter` counts, on the scorer's own boto3 clients, every call and the DynamoDB capacity
units it consumes (on-demand: a strongly consistent read of an item up to 4 KB is one read unit,
a write of up to 1 KB one write unit, a write to a table with a GSI projecting ALL writes the
index too). `benchmarks/stream.py` runs the scorer at the seed's rate with the meter attached
and writes the `Usage` per transaction it measured; `monthly_cost` prices a `Usage` at a given
rate with the `PRICES` below (`securebank cost --tpm N [--usage FILE]`).

Prices are AWS's public on-demand list prices for us-east-1 as of `PRICES_AS_OF`; they change,
and other regions differ. Free tiers, taxes, data transfer out of AWS and support are left out.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

PRICES_AS_OF = "2025-06 (us-east-1 list prices; DynamoDB on-demand after the 2024-11-01 cut)"
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Prices:
    kinesis_shard_hour: float = 0.015
    kinesis_put_unit_million: float = 0.014  # a PUT payload unit is 25 KB of one record
    efo_consumer_shard_hour: float = 0.015
    efo_gb_retrieved: float = 0.013
    lambda_gb_second: float = 0.0000166667  # x86
    lambda_request_million: float = 0.20
    dynamodb_write_unit_million: float = 0.625
    dynamodb_read_unit_million: float = 0.125
    s3_put_thousand: float = 0.005
    s3_gb_month: float = 0.023
    sns_request_million: float = 0.50  # SNS → SQS delivery is free
    sqs_request_million: float = 0.40
    cloudwatch_logs_gb: float = 0.50
    endpoint_instance_hour: float = 0.115  # ml.m5.large real-time inference


PRICES = Prices()


@dataclass(frozen=True)
class Usage:
    """What one decided transaction uses, averaged over a measured run."""

    dynamodb_read_units: float
    dynamodb_write_units: float
    dynamodb_calls: float
    record_bytes: float
    lambda_invocations: float
    lambda_ms_per_invocation: float
    s3_puts: float
    lake_bytes: float
    sns_requests: float
    sqs_requests: float
    log_bytes: float
    measured: str = ""

    @property
    def records_per_batch(self) -> float:
        return 1 / self.lambda_invocations if self.lambda_invocations else 0.0

    def with_batch(self, records: float) -> Usage:
        """The same work in batches of `records`: one Lambda invocation and one lake object per
        batch (what changes when AWS delivers smaller batches than the local run)."""
        per_batch_puts = self.s3_puts / self.lambda_invocations if self.lambda_invocations else 1
        return replace(
            self,
            lambda_invocations=1 / records,
            s3_puts=per_batch_puts / records,
            measured=f"{self.measured}; rescaled to {records:g} records a batch",
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Usage:
        raw = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        missing = known - set(raw) - {"measured"}
        if missing:
            raise ValueError(f"{path}: missing {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in raw.items() if k in known})


#: Measured by `benchmarks/stream.py --usage-out` (167 tx/s for 60 s, 2 shards, batch size 100,
#: window 0, the local stack on a 2-core machine under load average ~13-16, 2026-11-26). The
#: DynamoDB, S3, SNS and SQS counts per transaction do not depend on the machine; Lambda's batch
#: size and duration do (a slow machine makes fewer, longer batches), see `monthly_cost`.
MEASURED = Usage(
    dynamodb_read_units=2.205,
    dynamodb_write_units=7.205,
    dynamodb_calls=3.236,
    record_bytes=334.8,
    lambda_invocations=0.24870,
    lambda_ms_per_invocation=29.5,
    s3_puts=0.24870,
    lake_bytes=1177.3,
    sns_requests=0.00729,
    sqs_requests=0.0002,
    log_bytes=282.8,
    measured="benchmarks/stream.py, 60 s at 167 tx/s, 2 shards, one scorer process per shard, "
    "local stack (DynamoDB on dynalite), 2026-11-26",
)


@dataclass(frozen=True)
class CostLine:
    service: str
    what: str
    monthly_usd: float


def monthly_cost(
    tpm: float,
    usage: Usage,
    *,
    prices: Prices = PRICES,
    shards: int = 2,
    endpoint_instances: int = 1,
    lambda_memory_gb: float = 1.0,
    record_days_in_lake: float = 30.0,
) -> list[CostLine]:
    """Monthly cost lines at `tpm` transactions a minute, on-demand prices."""
    if tpm <= 0:
        raise ValueError("the rate must be positive")
    per_second = tpm / 60
    month = per_second * 3600 * HOURS_PER_MONTH  # transactions a month
    # A shard takes 1,000 records/s and 1 MB/s in: at least the configured count.
    shards = max(
        shards, math.ceil(per_second / 1000), math.ceil(per_second * usage.record_bytes / 1e6)
    )
    invocations = month * usage.lambda_invocations
    # One invocation per shard at a time (parallelization factor 1): a shard's function is busy
    # at most the whole month, whatever the measured batch time says.
    busy_s = min(
        invocations * usage.lambda_ms_per_invocation / 1000,
        shards * HOURS_PER_MONTH * 3600,
    )
    gb_seconds = busy_s * lambda_memory_gb
    lake_gb_stored = usage.lake_bytes * per_second * 86400 * record_days_in_lake / 1e9
    lines = [
        CostLine(
            "Kinesis",
            f"{shards} shards",
            shards * HOURS_PER_MONTH * prices.kinesis_shard_hour,
        ),
        CostLine(
            "Kinesis",
            "PUT payload units (1 per record ≤ 25 KB)",
            month
            * max(1.0, math.ceil(usage.record_bytes / 25_000))
            * prices.kinesis_put_unit_million
            / 1e6,
        ),
        CostLine(
            "Kinesis",
            f"enhanced fan-out: 1 consumer x {shards} shards + data",
            shards * HOURS_PER_MONTH * prices.efo_consumer_shard_hour
            + month * usage.record_bytes / 1e9 * prices.efo_gb_retrieved,
        ),
        CostLine(
            "Lambda",
            f"{invocations / 1e6:,.0f} M invocations",
            invocations * prices.lambda_request_million / 1e6,
        ),
        CostLine(
            "Lambda",
            f"{gb_seconds / 1e6:,.2f} M GB-s ({usage.lambda_ms_per_invocation:.0f} ms at "
            f"{lambda_memory_gb:g} GB)",
            gb_seconds * prices.lambda_gb_second,
        ),
        CostLine(
            "DynamoDB",
            f"{usage.dynamodb_write_units:.2f} write units / tx (on demand)",
            month * usage.dynamodb_write_units * prices.dynamodb_write_unit_million / 1e6,
        ),
        CostLine(
            "DynamoDB",
            f"{usage.dynamodb_read_units:.2f} read units / tx (on demand)",
            month * usage.dynamodb_read_units * prices.dynamodb_read_unit_million / 1e6,
        ),
        CostLine(
            "S3",
            f"{usage.s3_puts:.3f} PUT / tx, {record_days_in_lake:g} days of lake",
            month * usage.s3_puts * prices.s3_put_thousand / 1e3
            + lake_gb_stored * prices.s3_gb_month,
        ),
        CostLine(
            "SNS",
            f"{usage.sns_requests:.4f} publishes / tx (alerts)",
            month * usage.sns_requests * prices.sns_request_million / 1e6,
        ),
        CostLine(
            "SQS",
            f"{usage.sqs_requests:.4f} requests / tx",
            month * usage.sqs_requests * prices.sqs_request_million / 1e6,
        ),
        CostLine(
            "CloudWatch Logs",
            f"{usage.log_bytes:.0f} B of log + metrics / tx",
            month * usage.log_bytes / 1e9 * prices.cloudwatch_logs_gb,
        ),
        CostLine(
            "SageMaker",
            f"{endpoint_instances} x ml.m5.large endpoint, always on",
            endpoint_instances * HOURS_PER_MONTH * prices.endpoint_instance_hour,
        ),
    ]
    return lines


# --- measuring ---------------------------------------------------------------------------------


def _attribute_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (close enough for unit counts)."""
    ((kind, inner),) = value.items()
    if kind in ("S", "N", "B"):
        return len(str(inner).encode())
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v).encode()) for v in inner)
    if kind == "M":
        return 3 + sum(len(k) + _attribute_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_attribute_size(v) + 1 for v in inner)
    return 1  # BOOL, NULL


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _attribute_size(value) for name, value in item.items())


def write_units(item: dict[str, Any]) -> int:
    return max(1, math.ceil(item_size(item) / 1024))


class CallMeter:
    """Counts the calls made through boto3 clients and DynamoDB's capacity units.

    `indexed_tables` maps a table to how many of its GSIs copy every attribute (each such index
    costs the item's write units again). Reads are counted per key asked (strongly consistent,
    items under 4 KB: one unit each); conditional writes count whether or not they succeed.
    """

    def __init__(self, indexed_tables: dict[str, int] | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self.write_units_by_table: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self._indexed = indexed_tables or {}
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name
        client.meta.events.register(f"provide-client-params.{service}.*", self._on_call)
        return client

    def _on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        operation = model.name
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1
            if service == "dynamodb":
                self._dynamodb(operation, params)
            elif service == "s3" and operation == "PutObject":
                body = params.get("Body", b"")
                self.bytes["s3"] += len(body) if isinstance(body, bytes | str) else 0
            elif service == "sns" and operation == "PublishBatch":
                self.calls["sns.messages"] += len(params.get("PublishBatchRequestEntries", []))
            elif service == "sns" and operation == "Publish":
                self.calls["sns.messages"] += 1

    def _dynamodb(self, operation: str, params: dict[str, Any]) -> None:
        if operation == "BatchGetItem":
            self.read_units += sum(len(r["Keys"]) for r in params["RequestItems"].values())
        elif operation in ("GetItem", "Query", "Scan"):
            self.read_units += 1
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    self._write(table, request.get("PutRequest", {}).get("Item"))
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            self._write(params["TableName"], params.get("Item"))

    def _write(self, table: str, item: dict[str, Any] | None) -> None:
        units = (write_units(item) if item else 1) * (1 + self._indexed.get(table, 0))
        self.write_units += units
        self.write_units_by_table[table] += units

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "read_units": self.read_units,
                "write_units": self.write_units,
                "write_units_by_table": dict(self.write_units_by_table),
                "bytes": dict(self.bytes),
            }
