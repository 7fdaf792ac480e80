"""Rule-set versions and named lists in DynamoDB: the thin adapter (client passed in).

Versions table (key `pk`):

- `version#000007`: the YAML text, its status (proposed, approved, rejected), who proposed it
  and when, who approved it, when and why;
- `counter`: the last version number handed out (atomic ADD);
- `active`: the version the scorer runs and the stack of versions active before it
  (`rollback` pops it).

Maker-checker: a version is proposed by one person and approved by another; approval and the
move of the `active` pointer are one transaction, conditional on the version still being
proposed and the pointer unchanged, so two approvers racing cannot both win.

Lists table (keys `list_name`, `value`): one item per member (a card, merchant or device id — ids,
never card numbers), with who added it and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from securebank.pan import contains_pan
from securebank.rules.ruleset import CompiledRuleSet, RuleSetError, compile_rule_set


class RulesRefused(ValueError):
    """A maker-checker step that is not allowed (the message says why)."""


@dataclass(frozen=True)
class RuleSetVersion:
    version: int
    text: str
    status: str
    proposed_by: str
    proposed_at: str
    approved_by: str = ""
    approved_at: str = ""
    reason: str = ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _key(version: int) -> dict[str, Any]:
    return {"pk": {"S": f"version#{version:06d}"}}


def create_tables(dynamodb: Any, versions_table: str, lists_table: str) -> list[str]:
    """Create the two tables if missing (the local stack; terraform/rules.tf in AWS).

    Safe to call from several processes at once: a table created meanwhile counts as there.
    """
    existing: set[str] = set()
    for page in dynamodb.get_paginator("list_tables").paginate():
        existing |= set(page.get("TableNames", []))
    specs = {
        versions_table: {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        },
        lists_table: {
            "KeySchema": [
                {"AttributeName": "list_name", "KeyType": "HASH"},
                {"AttributeName": "value", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "list_name", "AttributeType": "S"},
                {"AttributeName": "value", "AttributeType": "S"},
            ],
        },
    }
    created = []
    for table, spec in specs.items():
        if table in existing:
            continue
        try:
            dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **spec)
            created.append(table)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
    return created


def _version_of(item: dict[str, Any]) -> RuleSetVersion:
    def s(name: str) -> str:
        return item.get(name, {}).get("S", "")

    return RuleSetVersion(
        version=int(item["version"]["N"]),
        text=s("text"),
        status=s("status"),
        proposed_by=s("proposed_by"),
        proposed_at=s("proposed_at"),
        approved_by=s("approved_by"),
        approved_at=s("approved_at"),
        reason=s("reason"),
    )


class RuleSetStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self.table = table

    def propose(self, text: str, by: str) -> int:
        """Store a new version (checked first: a rule set that does not compile is refused)."""
        if not by.strip():
            raise RulesRefused("the proposer's name is required")
        compile_rule_set(text)
        answer = self._db.update_item(
            TableName=self.table,
            Key={"pk": {"S": "counter"}},
            UpdateExpression="ADD last_version :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        version = int(answer["Attributes"]["last_version"]["N"])
        self._db.put_item(
            TableName=self.table,
            Item={
                **_key(version),
                "version": {"N": str(version)},
                "text": {"S": text},
                "status": {"S": "proposed"},
                "proposed_by": {"S": by},
                "proposed_at": {"S": _now()},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return version

    def get(self, version: int) -> RuleSetVersion | None:
        item = self._db.get_item(TableName=self.table, Key=_key(version), ConsistentRead=True)
        return _version_of(item["Item"]) if "Item" in item else None

    def versions(self) -> list[RuleSetVersion]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table}
        while True:
            page = self._db.scan(**kwargs)
            items += [i for i in page["Items"] if i["pk"]["S"].startswith("version#")]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted((_version_of(i) for i in items), key=lambda v: v.version)

    def active(self) -> tuple[int | None, list[int]]:
        """The active version (None before the first approval) and the versions before it."""
        item = self._db.get_item(
            TableName=self.table, Key={"pk": {"S": "active"}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None, []
        history = [int(v["N"]) for v in item.get("history", {}).get("L", [])]
        return int(item["version"]["N"]), history

    def approve(self, version: int, by: str, reason: str) -> None:
        """Approve a proposed version and make it active, unless the approver proposed it."""
        if not by.strip() or not reason.strip():
            raise RulesRefused("approval needs the approver's name and a reason")
        found = self.get(version)
        if found is None:
            raise RulesRefused(f"no rule-set version {version}")
        if found.status != "proposed":
            raise RulesRefused(f"version {version} is {found.status}, not proposed")
        if found.proposed_by.strip().lower() == by.strip().lower():
            raise RulesRefused(f"version {version} was proposed by {by}: another person approves")
        compile_rule_set(found.text)
        current, history = self.active()
        new_history = [*history, current] if current is not None else history
        self._move_pointer(
            current,
            version,
            new_history,
            extra={
                "Update": {
                    "TableName": self.table,
                    "Key": _key(version),
                    "UpdateExpression": "SET #s = :approved, approved_by = :by, "
                    "approved_at = :at, reason = :reason",
                    "ConditionExpression": "#s = :proposed",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":approved": {"S": "approved"},
                        ":proposed": {"S": "proposed"},
                        ":by": {"S": by},
                        ":at": {"S": _now()},
                        ":reason": {"S": reason},
                    },
                }
            },
        )

    def rollback(self, by: str, reason: str) -> tuple[int, int]:
        """Make the previously active version active again; return (from, to)."""
        if not by.strip() or not reason.strip():
            raise RulesRefused("a rollback needs a name and a reason")
        current, history = self.active()
        if current is None or not history:
            raise RulesRefused("no earlier active version to roll back to")
        target = history[-1]
        self._move_pointer(
            current,
            target,
            history[:-1],
            extra={
                "Update": {
                    "TableName": self.table,
                    "Key": _key(current),
                    "UpdateExpression": "SET rolled_back_by = :by, rolled_back_at = :at, "
                    "rollback_reason = :reason",
                    "ExpressionAttributeValues": {
                        ":by": {"S": by},
                        ":at": {"S": _now()},
                        ":reason": {"S": reason},
                    },
                }
            },
        )
        return current, target

    def _move_pointer(
        self, current: int | None, target: int, history: list[int], extra: dict[str, Any]
    ) -> None:
        pointer: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                "pk": {"S": "active"},
                "version": {"N": str(target)},
                "history": {"L": [{"N": str(v)} for v in history]},
                "changed_at": {"S": _now()},
            },
        }
        if current is None:
            pointer["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            pointer["ConditionExpression"] = "version = :current"
            pointer["ExpressionAttributeValues"] = {":current": {"N": str(current)}}
        try:
            self._db.transact_write_items(TransactItems=[{"Put": pointer}, extra])
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "TransactionCanceledException":
                raise RulesRefused(
                    "the active version or this version changed meanwhile; run it again"
                ) from error
            if code != "UnknownOperationException":
                raise
            self._move_pointer_without_transactions(pointer, extra)

    def _move_pointer_without_transactions(
        self, pointer: dict[str, Any], extra: dict[str, Any]
    ) -> None:
        """For a DynamoDB without TransactWriteItems (dynalite, the local default): the
        conditional pointer put decides (the same race is refused), then the version's record.
        A crash between the two leaves the version active without its approval or rollback
        fields; the pointer, which the scorer reads, is never half written."""
        try:
            self._db.put_item(**pointer)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise RulesRefused(
                    "the active version or this version changed meanwhile; run it again"
                ) from error
            raise
        ((kind, request),) = extra.items()
        if kind == "Update":
            self._db.update_item(**request)
        elif kind == "Put":
            self._db.put_item(**request)
        else:
            raise ValueError(f"unexpected write {kind}")


class RuleListStore:
    """Named lists of ids (blocked or trusted cards, merchants, devices)."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self.table = table

    def add(self, name: str, values: Iterable[str], by: str, reason: str) -> int:
        values = [v.strip() for v in values if v.strip()]
        if any(contains_pan(v) for v in values):
            raise RulesRefused("a list holds ids, never card numbers")
        at = _now()
        for start in range(0, len(values), 25):
            requests = [
                {
                    "PutRequest": {
                        "Item": {
                            "list_name": {"S": name},
                            "value": {"S": v},
                            "added_by": {"S": by},
                            "added_at": {"S": at},
                            "reason": {"S": reason},
                        }
                    }
                }
                for v in values[start : start + 25]
            ]
            pending = {self.table: requests}
            while pending:
                pending = self._db.batch_write_item(RequestItems=pending).get("UnprocessedItems")
        return len(values)

    def remove(self, name: str, values: Iterable[str]) -> int:
        count = 0
        for v in values:
            self._db.delete_item(
                TableName=self.table, Key={"list_name": {"S": name}, "value": {"S": v}}
            )
            count += 1
        return count

    def members(self, name: str) -> frozenset[str]:
        found: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "list_name = :n",
            "ExpressionAttributeValues": {":n": {"S": name}},
            "ProjectionExpression": "#v",
            "ExpressionAttributeNames": {"#v": "value"},
        }
        while True:
            page = self._db.query(**kwargs)
            found |= {i["value"]["S"] for i in page["Items"]}
            if "LastEvaluatedKey" not in page:
                return frozenset(found)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def load_rule_set(
    versions: RuleSetStore, lists: RuleListStore, version: int
) -> tuple[CompiledRuleSet, dict[str, frozenset[str]]]:
    """A stored version compiled, with the members of every list it names (for replays).

    Raises RuleSetError when there is no such version or it does not compile.
    """
    stored = versions.get(version)
    if stored is None:
        raise RuleSetError(f"no rule-set version {version}")
    compiled = compile_rule_set(stored.text, str(version))
    return compiled, {name: lists.members(name) for name in compiled.lists}
