import pytest

from securebank.registry import Approval, ModelRegistry, RegistryError


def _register(registry, ap):
    return registry.register(
        model_data_url="s3://b/model.tar.gz",
        image_uri="example/securebank:1",
        evaluation_uri="s3://b/evaluation.json",
        metadata={"ap": str(ap)},
    )


def test_versions_count_up_and_approval_keeps_metadata(aws):
    registry = ModelRegistry(aws.client("sagemaker"), aws.names.model_package_group)
    first, second = _register(registry, 0.5), _register(registry, 0.6)
    assert (first.version, second.version) == (1, 2)
    assert first.status is Approval.PENDING
    approved = registry.set_status(2, Approval.APPROVED, "reviewed")
    assert approved.status is Approval.APPROVED and approved.metadata == {"ap": "0.6"}
    registry.set_status(1, Approval.REJECTED)
    assert [v.status for v in registry.list()] == [Approval.REJECTED, Approval.APPROVED]
    assert registry.latest_approved().version == 2


def test_unknown_version_is_a_clear_error(aws):
    registry = ModelRegistry(aws.client("sagemaker"), aws.names.model_package_group)
    with pytest.raises(RegistryError, match="model version 7 does not exist"):
        registry.get(7)
