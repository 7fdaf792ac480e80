"""One typed settings object, read from the environment with the same names locally and in AWS.

Only entry points (the CLI, Lambda handlers, step scripts) call `get_settings()`; everything below
them receives what it needs as arguments.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from securebank.resources import ResourceNames


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SECUREBANK_", extra="ignore", frozen=True)

    #: Local working folder: generated data, local AWS state, MLflow store, reports.
    home: Path = Path(".securebank")
    #: Name prefix of every AWS resource (buckets, stream, tables, topics), as in terraform/.
    prefix: str = Field(default="securebank", pattern=r"^[a-z][a-z0-9-]{2,30}$")
    environment: str = Field(default="local", pattern=r"^[a-z][a-z0-9-]{1,15}$")
    region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    #: `local`: the local AWS (`securebank stack`, started on demand); `aws`: a real account.
    target: Literal["local", "aws"] = "local"
    #: One endpoint for every AWS service (boto3's own variable); unset means AWS itself, or the
    #: local stack's endpoint when target is local.
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL")
    )
    #: boto3's per-service endpoints (`AWS_ENDPOINT_URL_DYNAMODB`, ...), ahead of the one above:
    #: `securebank stack up` prints them for the local stack's mix of servers.
    aws_endpoint_url_dynamodb: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_DYNAMODB")
    )
    aws_endpoint_url_kinesis: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_KINESIS")
    )
    aws_endpoint_url_s3: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3")
    )
    aws_endpoint_url_sns: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_SNS")
    )
    aws_endpoint_url_sqs: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_SQS")
    )
    aws_endpoint_url_sagemaker: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_SAGEMAKER")
    )
    #: Where InvokeEndpoint goes (boto3's variable): the local model server, when set.
    runtime_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
    )
    #: Container image (ECR URI) that runs the pipeline steps and serves the model in SageMaker.
    image_uri: str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/securebank:latest"
    #: IAM role for SageMaker jobs and the pipeline (terraform output `pipeline_role_arn`).
    pipeline_role_arn: str | None = None
    #: MLflow tracking URI; default is a sqlite store in `home`.
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI")
    )

    #: The stream scorer's time for one batch, from arrival to decision (milliseconds).
    latency_budget_ms: int = Field(
        default=100,
        ge=10,
        le=60_000,
        validation_alias=AliasChoices("LATENCY_BUDGET_MS", "SECUREBANK_LATENCY_BUDGET_MS"),
    )
    #: The model the scorer falls back to (S3 URI of model.tar.gz); unset: the latest Approved
    #: version in the Model Package Group.
    fallback_model_uri: str | None = None
    #: ARNs and URLs terraform outputs for the scorer; unset: looked up by name (local stack).
    alerts_topic_arn: str | None = None
    dead_letter_queue_url: str | None = None
    #: The issuer's home: the currency of a bank file's rows that name none (`data import`), and
    #: the country and currency the dataset's manifest records as the issuer's.
    issuer_country: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    issuer_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")

    #: How often the scorer re-reads the active rule-set version and its lists (seconds).
    rules_refresh_seconds: float = Field(default=5.0, ge=0.0, le=300.0)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def names(self) -> ResourceNames:
        return ResourceNames(prefix=self.prefix, environment=self.environment)

    @property
    def service_endpoints(self) -> dict[str, str]:
        """The per-service endpoints that are set, by boto3 service name."""
        urls = {
            "dynamodb": self.aws_endpoint_url_dynamodb,
            "kinesis": self.aws_endpoint_url_kinesis,
            "s3": self.aws_endpoint_url_s3,
            "sns": self.aws_endpoint_url_sns,
            "sqs": self.aws_endpoint_url_sqs,
            "sagemaker": self.aws_endpoint_url_sagemaker,
        }
        return {service: url for service, url in urls.items() if url}

    @property
    def mlflow_artifact_location(self) -> str | None:
        """Artifacts of the local MLflow store, under `home` (None with a tracking server)."""
        if self.mlflow_tracking_uri:
            return None
        return (self.home / "mlflow-artifacts").resolve().as_uri()

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"


@cache
def get_settings() -> Settings:
    return Settings()
