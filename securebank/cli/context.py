"""What every command that talks to AWS needs: settings and clients, the local stack on demand.

The work is `securebank.aws.connect`; here its failures become one-line user errors.
"""

from __future__ import annotations

from securebank import aws as aws_clients
from securebank.aws import AwsClients
from securebank.cli.errors import UserError
from securebank.ddb import STORE_ERRORS
from securebank.local import stack as local_stack
from securebank.registry import ModelRegistry
from securebank.settings import Settings, get_settings


def settings() -> Settings:
    try:
        return get_settings()
    except ValueError as error:
        raise UserError(f"invalid setting: {error}".splitlines()[0]) from error


def clients(config: Settings | None = None, provision: bool = True) -> AwsClients:
    try:
        return aws_clients.connect(config or settings(), provision)
    except local_stack.StackError as error:
        raise UserError(str(error)) from error
    except STORE_ERRORS as error:  # creating the local resources: the endpoint does not answer
        raise UserError(f"the AWS services do not answer: {error}") from error


def registry(aws: AwsClients, config: Settings) -> ModelRegistry:
    return ModelRegistry(aws.client("sagemaker"), config.names.model_package_group)
