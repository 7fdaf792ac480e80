"""Model versions in a SageMaker Model Package Group: register, list, approve, reject.

The same calls run against AWS and the local AWS. A version is the group's ModelPackageVersion;
its metrics and feature-set version travel as CustomerMetadataProperties, its evaluation report
as ModelMetrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from securebank.model_artifact import FraudModel, load_model_bytes
from securebank.s3io import read_bytes


class Approval(StrEnum):
    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class RegistryError(LookupError):
    """No such version, or a change the registry refuses."""


@dataclass(frozen=True)
class ModelVersion:
    version: int
    arn: str
    status: Approval
    created: datetime
    model_data_url: str
    image_uri: str
    metadata: dict[str, str] = field(default_factory=dict)
    description: str = ""


class ModelRegistry:
    def __init__(self, sagemaker: Any, group: str) -> None:
        self._sm = sagemaker
        self.group = group

    def register(
        self,
        *,
        model_data_url: str,
        image_uri: str,
        evaluation_uri: str,
        metadata: dict[str, str],
        approval: Approval = Approval.PENDING,
        description: str = "",
    ) -> ModelVersion:
        response = self._sm.create_model_package(
            ModelPackageGroupName=self.group,
            ModelPackageDescription=description,
            ModelApprovalStatus=approval.value,
            InferenceSpecification={
                "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_url}],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": evaluation_uri}
                }
            },
            CustomerMetadataProperties=metadata,
        )
        return self._describe(response["ModelPackageArn"])

    def _describe(self, arn: str) -> ModelVersion:
        d = self._sm.describe_model_package(ModelPackageName=arn)
        container = d["InferenceSpecification"]["Containers"][0]
        return ModelVersion(
            version=int(d["ModelPackageVersion"]),
            arn=d["ModelPackageArn"],
            status=Approval(d["ModelApprovalStatus"]),
            created=d["CreationTime"],
            model_data_url=container["ModelDataUrl"],
            image_uri=container["Image"],
            metadata=dict(d.get("CustomerMetadataProperties", {})),
            description=d.get("ModelPackageDescription", ""),
        )

    def _arns(self) -> dict[int, str]:
        arns: dict[int, str] = {}
        paginator = self._sm.get_paginator("list_model_packages")
        for page in paginator.paginate(ModelPackageGroupName=self.group):
            for summary in page["ModelPackageSummaryList"]:
                arns[int(summary["ModelPackageVersion"])] = summary["ModelPackageArn"]
        return arns

    def list(self) -> list[ModelVersion]:
        return [self._describe(arn) for _, arn in sorted(self._arns().items())]

    def get(self, version: int) -> ModelVersion:
        arn = self._arns().get(version)
        if arn is None:
            raise RegistryError(f"model version {version} does not exist in {self.group}")
        return self._describe(arn)

    def set_status(self, version: int, status: Approval, reason: str = "") -> ModelVersion:
        current = self.get(version)
        self._sm.update_model_package(
            ModelPackageArn=current.arn,
            ModelApprovalStatus=status.value,
            ApprovalDescription=reason or f"set to {status.value}",
            # Re-stating the metadata is a no-op on AWS; moto 5.2 drops it when it is omitted.
            CustomerMetadataProperties=current.metadata,
        )
        return self.get(version)

    def latest_approved(self) -> ModelVersion | None:
        approved = [v for v in self.list() if v.status is Approval.APPROVED]
        return approved[-1] if approved else None


def load_version_model(
    registry: ModelRegistry, s3: Any, version: int, *, feature_set: str | None
) -> tuple[ModelVersion, FraudModel]:
    """A registered version and its model, read from its `model_data_url` in S3.

    `feature_set` as in `model_artifact.load_model`: the version the caller computes, or None to
    accept any. Raises `RegistryError` (no such version) or `IncompatibleModel`.
    """
    found = registry.get(version)
    return found, load_model_bytes(read_bytes(s3, found.model_data_url), feature_set=feature_set)
