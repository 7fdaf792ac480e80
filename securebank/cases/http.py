"""The case and outcome routes of the API server (securebank/ingest/server.py calls `serve`).

`GET /cases` (the queue: open and assigned; `?status=resolved` for closed ones), `GET
/cases/{id}`, `POST /cases/{id}/assign` `{"to": NAME}`, `POST /cases/{id}/outcome` `{"outcome":
"fraud"|"legit"|"unknown", "note": TEXT}`, `POST /outcomes` `{"outcomes": [{transaction_id,
reported_at, is_fraud?, source?}]}`. Every route needs an API key with the `analyst` scope (an
ingest key gets 403); the key's name is who the audit trail records. docs/openapi.yaml describes
every status these routes answer (tests/ops/test_http.py holds it to them): the id in the path is
percent-decoded; a POST body is framed by Content-Length only (chunked 411, a malformed length
400, over `MAX_BODY_BYTES` 413, each closing the connection: `reader.refuse_framing`, which the
ingest route shares); a failing store is 503.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from securebank.cases.model import CaseConflict, CaseError, CaseStatus, check_name
from securebank.cases.service import Operations
from securebank.cases.store import CaseNotFound
from securebank.ddb import STORE_ERRORS
from securebank.ingest.keys import ApiKey
from securebank.ingest.reader import content_length, refuse_framing

MAX_BODY_BYTES = 1024 * 1024
MAX_OUTCOMES = 5000
SCOPE = "analyst"
log = logging.getLogger("securebank.cases")
_CASE = re.compile(r"^/cases/([^/]+)$")
_ACTION = re.compile(r"^/cases/([^/]+)/(outcome|assign)$")


def owns(path: str) -> bool:
    route = urlsplit(path).path
    return route in ("/cases", "/outcomes") or route.startswith("/cases/")


def route_name(path: str) -> str:
    """The route without ids, for the access log (an id in a path is never logged)."""
    route = urlsplit(path).path
    if _ACTION.match(route):
        return "/cases/{id}/" + route.rsplit("/", 1)[1]
    if _CASE.match(route):
        return "/cases/{id}"
    return route if route in ("/cases", "/outcomes") else "/cases/..."


def summary(case: Any) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "status": case.status.value,
        "action": case.action,
        "score": case.score,
        "amount": case.amount,
        "currency": case.currency,
        "merchant_id": case.merchant_id,
        "event_time": case.event_time,
        "created_at": case.created_at,
        "assignee": case.assignee,
        "top_reasons": case.top_reasons(),
    }


def allowed_method(route: str) -> str | None:
    """The one method a route of these answers (for 405 and its Allow header); None: no route."""
    if route == "/cases" or _CASE.match(route):
        return "GET"
    if route == "/outcomes" or _ACTION.match(route):
        return "POST"
    return None


def who(key: ApiKey) -> str:
    try:
        return check_name(key.name)
    except CaseError:
        return f"key-{key.key_id}"


def handle(
    operations: Operations, method: str, path: str, key: ApiKey, body: bytes
) -> tuple[int, dict[str, Any]]:
    """(status, JSON document) for an authenticated request to one of these routes."""
    if not key.allows(SCOPE):
        return 403, {"message": "this API key lacks the analyst scope"}
    parts = urlsplit(path)
    route = parts.path
    allowed = allowed_method(route)
    if allowed is None:
        return 404, {"message": "not found"}
    if method != allowed:
        return 405, {"message": f"{method} is not allowed here; {allowed} is"}
    try:
        if method == "GET" and route == "/cases":
            query = parse_qs(parts.query)
            # Each status once, in the order asked: `open,open` must not list every case twice.
            statuses = dict.fromkeys(query.get("status", ["open,assigned"])[0].split(","))
            try:
                wanted = tuple(CaseStatus(s) for s in statuses)
                limit = min(max(int(query.get("limit", ["100"])[0]), 1), 1000)
            except ValueError:
                return 400, {"message": "status must be open, assigned or resolved; limit 1-1000"}
            return 200, {"cases": [summary(c) for c in operations.cases.list(wanted, limit)]}
        if method == "GET" and (match := _CASE.match(route)):
            return 200, operations.cases.get(unquote(match.group(1))).as_dict()
        document = _json(body)
        if document is None:
            return 400, {"message": "body must be a JSON object"}
        if match := _ACTION.match(route):
            case_id, action = unquote(match.group(1)), match.group(2)
            if action == "assign":
                to = document.get("to", "")
                if not isinstance(to, str):
                    # str() would make 123 or null a name ("123", "None"): refuse it instead.
                    return 400, {"message": '"to" must be text: the analyst\'s name'}
                case = operations.assign(case_id, to, who(key))
            else:
                note = document.get("note", "")
                if not isinstance(note, str):
                    return 400, {"message": "note must be text"}
                case = operations.resolve(case_id, str(document.get("outcome", "")), note, who(key))
            return 200, case.as_dict()
        if route == "/outcomes":
            rows = document.get("outcomes", [document])
            if not isinstance(rows, list) or not rows or len(rows) > MAX_OUTCOMES:
                return 400, {"message": f'"outcomes" must be a list of 1-{MAX_OUTCOMES} rows'}
            report = operations.import_outcomes(rows, by=who(key))
            status = 400 if report.accepted == 0 else 202
            return status, report.as_dict()
    except CaseNotFound as error:
        return 404, {"message": str(error)}
    except CaseConflict as error:
        return 409, {"message": str(error)}
    except CaseError as error:
        return 400, {"message": str(error)}
    return 404, {"message": "not found"}


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def serve(handler: Any, method: str) -> int:
    """Authenticate, read the body, answer; for the API server's handler. Returns the status."""
    presented = handler.headers.get("x-api-key")
    if not presented:
        handler._skip_body()
        handler._send(401, {"message": "missing x-api-key header"})
        return 401
    key = handler.server.keys.verify(presented)
    if key is None:
        handler._skip_body()
        handler._send(403, {"message": "invalid API key"})
        return 403
    body = b""
    if method != "POST":
        handler._skip_body()  # a GET's body is not the connection's next request either
    else:
        refusal = refuse_framing(handler.headers, MAX_BODY_BYTES)
        if refusal is not None:
            # The body is not read: close, or its bytes would be taken for the next request.
            handler.close_connection = True
            handler._send(refusal[0], {"message": refusal[1]})
            return refusal[0]
        body = handler.rfile.read(content_length(handler.headers.get("Content-Length")) or 0)
    headers = None
    try:
        status, document = handle(handler.server.operations, method, handler.path, key, body)
    except STORE_ERRORS as error:
        # A store (DynamoDB, S3) failed: answer so, rather than drop the connection unanswered.
        # A resolve or an outcome row is safe to send again (repeats are recorded once).
        log.warning("case route: store failed: %s", type(error).__name__)
        status, document = 503, {"message": "a store is unavailable; try again"}
        headers = {"Retry-After": "1"}
    except Exception as error:
        log.error("case route failed: %s", type(error).__name__)  # no request data in the log
        status, document = 500, {"message": "internal error"}
    if status == 405:
        headers = {"Allow": allowed_method(urlsplit(handler.path).path) or ""}
    return handler._send(status, document, headers)  # the status sent (500 if not JSON)
