"""Building the scorer's adapters from settings: the one place that reads configuration."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from securebank.aws import AwsClients
from securebank.features.definitions import FEATURE_SET_VERSION
from securebank.model_artifact import load_model_bytes
from securebank.registry import ModelRegistry
from securebank.rules.active import ActiveRules
from securebank.rules.store import RuleListStore, RuleSetStore, create_tables
from securebank.s3io import read_bytes
from securebank.scorer.decision_store import DecisionStore
from securebank.scorer.fanout import AlertPublisher, DeadLetterQueue, LakeWriter
from securebank.scorer.processor import ScorerParts
from securebank.scorer.scoring import CircuitBreaker, EndpointScorer, FallbackScorer
from securebank.scorer.shards import merchant_slots
from securebank.scorer.state_store import FeatureStateStore
from securebank.settings import Settings, get_settings


class NoFallbackModel(RuntimeError):
    """No approved model version to fall back to: the scorer refuses to start without one."""


#: Parallel conditional writes per container (decisions, state items).
WRITE_THREADS = 16


def build_parts(
    settings: Settings | None = None,
    aws: AwsClients | None = None,
    *,
    endpoint: bool = True,
    resolve_endpoint_url: Callable[[], str | None] | None = None,
) -> ScorerParts:
    """The scorer's adapters. `endpoint=False` scores with the fallback only;
    `resolve_endpoint_url` says where the endpoint is now (a local server that may move)."""
    settings = settings or get_settings()
    names = settings.names
    aws = aws or AwsClients(
        region=settings.region,
        endpoint_url=settings.aws_endpoint_url,
        runtime_endpoint_url=settings.runtime_endpoint_url,
        local=settings.target == "local",
        service_endpoints=settings.service_endpoints,
    )
    fallback_uri = settings.fallback_model_uri
    version = "fallback"
    if fallback_uri is None:
        approved = ModelRegistry(
            aws.client("sagemaker"), names.model_package_group
        ).latest_approved()
        if approved is None:
            raise NoFallbackModel(f"no Approved version in {names.model_package_group}")
        fallback_uri, version = approved.model_data_url, str(approved.version)
    model = load_model_bytes(
        read_bytes(aws.client("s3"), fallback_uri), feature_set=FEATURE_SET_VERSION
    )
    sqs = aws.client("sqs")
    sns = aws.client("sns")
    # In AWS both come from terraform outputs; create_topic/get_queue_url only name-resolve
    # on the local stack, where the scorer may create what it uses.
    topic_arn = settings.alerts_topic_arn or sns.create_topic(Name=names.alerts_topic)["TopicArn"]
    dlq_url = (
        settings.dead_letter_queue_url
        or sqs.get_queue_url(QueueName=names.dead_letter_queue)["QueueUrl"]
    )
    dynamodb = aws.client("dynamodb")
    if settings.target == "local":
        create_tables(dynamodb, names.rules_table, names.rule_lists_table)
    rules = ActiveRules(
        RuleSetStore(dynamodb, names.rules_table),
        RuleListStore(dynamodb, names.rule_lists_table),
        refresh_seconds=settings.rules_refresh_seconds,
    )
    # Every shard that ever held merchant partials, closed ones too (lambda/scorer/shards.py).
    slots = merchant_slots(aws.client("kinesis"), dynamodb, names.stream, names.feature_table)
    pool = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="scorer-write")
    return ScorerParts(
        states=FeatureStateStore(dynamodb, names.feature_table, slots, pool),
        decisions=DecisionStore(dynamodb, names.decisions_table, pool),
        lake=LakeWriter(aws.client("s3"), names.lake_bucket),
        alerts=AlertPublisher(sns, topic_arn),
        dead_letters=DeadLetterQueue(sqs, dlq_url),
        endpoint=EndpointScorer(
            aws,
            names.endpoint,
            resolve_url=resolve_endpoint_url,
            breaker=CircuitBreaker(),
        )
        if endpoint
        else None,
        fallback=FallbackScorer(model, version),
        feature_set_version=FEATURE_SET_VERSION,
        latency_budget_ms=settings.latency_budget_ms,
        rules=rules,
    )
