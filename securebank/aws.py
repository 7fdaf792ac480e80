"""boto3 clients for the platform, pointed at AWS or at the local stack by settings alone.

Adapters take the clients they need as arguments; only entry points build an `AwsClients`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

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
        endpoint = endpoint_url or self.endpoint_url
        if service == "sagemaker-runtime" and self.runtime_endpoint_url and not endpoint_url:
            endpoint = self.runtime_endpoint_url
        client = self._session.client(
            service, endpoint_url=endpoint, config=config or DEFAULT_CONFIG
        )
        if not fresh:
            self._cache[service] = client
        return client
