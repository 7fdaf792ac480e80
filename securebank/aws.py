"""boto3 clients for the platform, pointed at AWS or at the local stack by settings alone.

Adapters take the clients they need as arguments; only entry points build an `AwsClients`,
with `connect` (which starts and provisions the local AWS when the target is local).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from securebank.settings import Settings

#: Credentials for the local stack, which accepts any; never used against AWS.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}

#: Every shared client: adaptive retry mode (exponential backoff plus client-side rate limiting
#: on throttling), a bounded number of attempts, and enough pooled connections for the scorer's
#: parallel conditional writes. Callers that pass their own `Config` (the single-attempt,
#: budget-bound endpoint client) get exactly that config instead.
DEFAULT_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": 5},
    max_pool_connections=32,
)


@dataclass
class AwsClients:
    """Makes and caches boto3 clients for one region and endpoint."""

    region: str
    endpoint_url: str | None = None
    runtime_endpoint_url: str | None = None
    local: bool = False
    #: Per-service endpoints (`{"dynamodb": url, ...}`), ahead of `endpoint_url`: the local
    #: stack serves each service from the server measured best for it.
    service_endpoints: dict[str, str] = field(default_factory=dict)
    _session: boto3.Session = field(init=False, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        credentials = LOCAL_CREDENTIALS if self.local else {}
        self._session = boto3.Session(region_name=self.region, **credentials)

    @property
    def session(self) -> boto3.Session:
        return self._session

    def client(
        self, service: str, config: Config | None = None, endpoint_url: str | None = None
    ) -> Any:
        """A client for `service` with `DEFAULT_CONFIG`, cached; with `config` or `endpoint_url`,
        a fresh one built with that config alone (timeouts and attempts differ per use) and
        that endpoint (a local server found again after a restart)."""
        fresh = config is not None or endpoint_url is not None
        if not fresh and service in self._cache:
            return self._cache[service]
        endpoint = endpoint_url or self.service_endpoints.get(service, self.endpoint_url)
        if service == "sagemaker-runtime" and self.runtime_endpoint_url and not endpoint_url:
            endpoint = self.runtime_endpoint_url
        client = self._session.client(
            service, endpoint_url=endpoint, config=config or DEFAULT_CONFIG
        )
        if not fresh:
            self._cache[service] = client
        return client

    def with_runtime(self, runtime_endpoint_url: str | None) -> AwsClients:
        """The same endpoints, with InvokeEndpoint sent to `runtime_endpoint_url`."""
        return AwsClients(
            region=self.region,
            endpoint_url=self.endpoint_url,
            runtime_endpoint_url=runtime_endpoint_url,
            local=self.local,
            service_endpoints=dict(self.service_endpoints),
        )


def local_endpoints(config: Settings) -> tuple[str, dict[str, str]]:
    """The local AWS endpoints (default, per service): the configured ones, or the local stack's,
    started if needed (`local_stack.StackError` when it cannot start)."""
    from securebank.local import stack as local_stack

    if config.aws_endpoint_url:
        return config.aws_endpoint_url, config.service_endpoints
    stack = local_stack.start(config.home)
    return stack.url, stack.service_endpoints | config.service_endpoints


def connect(config: Settings, provision: bool = True) -> AwsClients:
    """Clients for the configured target: AWS, or the local AWS (started when needed) with the
    platform's resources created when missing (`provision=False`: the caller creates what it
    needs)."""
    from securebank.local import stack as local_stack

    if config.target == "aws":
        return AwsClients(
            region=config.region,
            endpoint_url=config.aws_endpoint_url,
            runtime_endpoint_url=config.runtime_endpoint_url,
            service_endpoints=config.service_endpoints,
        )
    endpoint, service_endpoints = local_endpoints(config)
    aws = AwsClients(
        region=config.region,
        endpoint_url=endpoint,
        runtime_endpoint_url=config.runtime_endpoint_url,
        local=True,
        service_endpoints=service_endpoints,
    )
    if provision:
        local_stack.provision(aws, config.names)
    return aws
