"""Small DynamoDB helpers shared by the operations stores: typed items and conditional puts.

Each store keeps one writer-agnostic rule: an item is written only over the version that was
read (`attribute_not_exists` for a new item), so two writers never lose each other's updates;
the loser re-reads and tries again.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
#: What a store call (DynamoDB, S3) raises when the service fails or refuses: callers above the
#: adapters catch these without importing botocore themselves.
STORE_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError)


class VersionConflict(RuntimeError):
    """Another writer changed the item since it was read."""


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in document.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}


def put_versioned(
    dynamodb: Any, table: str, key_name: str, document: dict[str, Any], read_version: int | None
) -> None:
    """Put `document` (its `version` = read_version + 1) only if the stored item still has
    `read_version` (None: only if there is no item yet); raise `VersionConflict` otherwise."""
    if read_version is None:
        condition, values = f"attribute_not_exists({key_name})", {}
    else:
        condition, values = "version = :v", {":v": {"N": str(read_version)}}
    request: dict[str, Any] = {
        "TableName": table,
        "Item": to_item(document),
        "ConditionExpression": condition,
    }
    if values:
        request["ExpressionAttributeValues"] = values
    try:
        dynamodb.put_item(**request)
    except dynamodb.exceptions.ConditionalCheckFailedException as error:
        raise VersionConflict(f"{table}: {document[key_name]} changed meanwhile") from error


def get(dynamodb: Any, table: str, key_name: str, key: str) -> dict[str, Any] | None:
    item = dynamodb.get_item(TableName=table, Key={key_name: {"S": key}}, ConsistentRead=True)
    found = item.get("Item")
    return None if found is None else from_item(found)
