"""One typed settings object, read from the environment with the same names locally and in AWS.

Only entry points (the CLI, Lambda handlers, step scripts) call `get_settings()`; everything below
them receives what it needs as arguments.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    @property
    def data_dir(self) -> Path:
        return self.home / "data"


@cache
def get_settings() -> Settings:
    return Settings()
