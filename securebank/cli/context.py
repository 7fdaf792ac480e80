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


def local_endpoint(config: Settings) -> str:
    """The local AWS endpoint: the configured one, or the local stack, started if needed."""
    if config.aws_endpoint_url:
        return config.aws_endpoint_url
    try:
        return local_stack.start(config.home).url
    except local_stack.StackError as error:
        raise UserError(str(error)) from error


def clients(config: Settings | None = None) -> AwsClients:
    config = config or settings()
    if config.target == "aws":
        return AwsClients(
            region=config.region,
            endpoint_url=config.aws_endpoint_url,
            runtime_endpoint_url=config.runtime_endpoint_url,
        )
    aws = AwsClients(
        region=config.region,
        endpoint_url=local_endpoint(config),
        runtime_endpoint_url=config.runtime_endpoint_url,
        local=True,
    )
    local_stack.provision(aws, config.names)
    return aws


def registry(aws: AwsClients, config: Settings) -> ModelRegistry:
    return ModelRegistry(aws.client("sagemaker"), config.names.model_package_group)
