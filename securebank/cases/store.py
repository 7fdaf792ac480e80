"""The cases table in DynamoDB: one item per case, listed by status through a GSI.

Item: `case_id` (key), `status` and `created_at` (the `by-status` index), `version`, and the
whole case as a JSON document (`doc`). Creating is conditional on the case not existing (an alert
delivered twice makes one case); every change is written only over the version it was read at.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from securebank.cases.model import Case, CaseConflict, CaseError, CaseStatus, check_case_id
from securebank.ddb import VersionConflict, from_item, get, put_versioned
from securebank.resources import CASES_BY_STATUS_INDEX

UPDATE_ATTEMPTS = 5


class CaseNotFound(CaseError):
    pass


def _document(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "status": case.status.value,
        "created_at": case.created_at,
        "version": case.version,
        "doc": json.dumps(case.as_dict(), separators=(",", ":")),
    }


def _case(document: dict[str, Any]) -> Case:
    body = json.loads(document["doc"])
    body["version"] = int(document["version"])
    return Case.from_dict(body)


class CaseStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self.table = table

    def create(self, case: Case) -> bool:
        """Store a new case; False when a case for the transaction already exists."""
        try:
            put_versioned(self._db, self.table, "case_id", _document(case), None)
        except VersionConflict:
            return False
        return True

    def get(self, case_id: str) -> Case:
        check_case_id(case_id)
        document = get(self._db, self.table, "case_id", case_id)
        if document is None:
            raise CaseNotFound(f"no case {case_id}")
        return _case(document)

    def update(self, case_id: str, change: Callable[[Case], Case]) -> Case:
        """Read the case, apply `change` (a pure transition), write it over the version read;
        on a concurrent change, read again and re-apply (the transition may then refuse)."""
        for _ in range(UPDATE_ATTEMPTS):
            before = self.get(case_id)
            after = change(before)
            stored = replace(after, version=before.version + 1)
            try:
                put_versioned(self._db, self.table, "case_id", _document(stored), before.version)
            except VersionConflict:
                continue
            return stored
        # A conflict (HTTP 409), not a bad request: the same request can succeed when retried.
        raise CaseConflict(f"case {case_id} keeps changing; try again")

    def list(self, statuses: tuple[CaseStatus, ...], limit: int = 100) -> list[Case]:
        """Cases in the given statuses, oldest first within each status, at most `limit`."""
        out: list[Case] = []
        for status in statuses:
            for document in self._query(status):
                out.append(_case(document))
                if len(out) >= limit:
                    return out
        return out

    def _query(self, status: CaseStatus) -> Iterator[dict[str, Any]]:
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            IndexName=CASES_BY_STATUS_INDEX,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status.value}},
        ):
            for item in page["Items"]:
                yield from_item(item)

    def count(self, status: CaseStatus) -> int:
        total = 0
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            IndexName=CASES_BY_STATUS_INDEX,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status.value}},
            Select="COUNT",
        ):
            total += page["Count"]
        return total
