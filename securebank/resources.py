"""The names of every AWS resource the platform uses, derived from one prefix and environment.

The local stack creates exactly these, and terraform/ names its resources with the same rule
(`"${var.prefix}-${var.environment}-..."`), so code, local AWS and the deployment agree.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    def buckets(self) -> tuple[str, ...]:
        return (self.lake_bucket, self.artifacts_bucket)
