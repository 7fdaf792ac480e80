"""What every command that talks to AWS needs: settings and clients, the local stack on demand."""

from __future__ import annotations

from securebank import local_stack
from securebank.aws import AwsClients
from securebank.cli.errors import UserError
from securebank.registry import ModelRegistry
from securebank.settings import Settings, get_settings


def settings() -> Settings:
    try:
        return get_settings()
    except ValueError as error:
        raise UserError(f"invalid setting: {error}".splitlines()[0]) from error


def local_endpoints(config: Settings) -> tuple[str, dict[str, str]]:
    """The local AWS endpoints (default, per service): the configured ones, or the local stack's,
    started if needed."""
    if config.aws_endpoint_url:
        return config.aws_endpoint_url, config.service_endpoints
    try:
        stack = local_stack.start(config.home)
    except local_stack.StackError as error:
        raise UserError(str(error)) from error
    return stack.url, stack.service_endpoints | config.service_endpoints


def clients(config: Settings | None = None) -> AwsClients:
    config = config or settings()
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
    local_stack.provision(aws, config.names)
    return aws


def registry(aws: AwsClients, config: Settings) -> ModelRegistry:
    return ModelRegistry(aws.client("sagemaker"), config.names.model_package_group)
