"""The analyst console: server-rendered pages over the case, label and performance stores.

Pages: `/` the queue of open and assigned cases (score, action, top reasons, amount, merchant,
age); `/cases/{id}` a case (the card's recent decisions as a timeline, the reasons, the features
snapshot, the audit trail, buttons to assign and resolve); `/models` live metrics per model version
on matured labels. Jinja2 templates with autoescaping; no script, no CDN. It listens on 127.0.0.1
only and acts as the analyst it was started for; every form carries a per-server token (a page
from another site cannot post to it).
"""

from __future__ import annotations

import secrets
import time
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from securebank.cases.model import CaseConflict, CaseError, Outcome
from securebank.cases.service import Operations
from securebank.cases.store import CaseNotFound
from securebank.resources import ResourceNames

MAX_FORM_BYTES = 16 * 1024
_ENV = Environment(
    loader=PackageLoader("securebank.console", "templates"),
    autoescape=select_autoescape(["html"]),
)


def _age(created_at: str) -> str:
    try:
        seconds = (datetime.now(UTC) - datetime.fromisoformat(created_at)).total_seconds()
    except ValueError:
        return "?"
    if seconds < 3600:
        return f"{max(seconds, 0) / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


_ENV.filters["age"] = _age


class ConsoleServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        operations: Operations,
        s3: Any,
        names: ResourceNames,
        analyst: str,
        maturity_days: float = 30.0,
    ) -> None:
        super().__init__(address, ConsoleHandler)
        self.operations, self.s3, self.names = operations, s3, names
        self.analyst = analyst
        self.maturity_days = maturity_days
        self.token = secrets.token_urlsafe(24)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class ConsoleHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: ConsoleServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the console's requests are not worth a log line each."""

    def _html(self, status: int, template: str, **values: Any) -> None:
        body = (
            _ENV.get_template(template)
            .render(analyst=self.server.analyst, token=self.server.token, **values)
            .encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'")
        self.send_header("X-Frame-Options", "DENY")
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        route = urllib.parse.urlsplit(self.path).path
        operations = self.server.operations
        try:
            if route == "/":
                self._html(200, "queue.html", cases=operations.queue(), title="Queue")
            elif route.startswith("/cases/") and route.count("/") == 2:
                case = operations.cases.get(urllib.parse.unquote(route.removeprefix("/cases/")))
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                self._html(
                    200,
                    "case.html",
                    case=case,
                    history=operations.card_history(case.card_id),
                    outcomes=[o.value for o in Outcome],
                    message=query.get("message", [""])[0],
                    title=f"Case {case.case_id}",
                )
            elif route == "/models":
                self._html(200, "models.html", **self._models(), title="Models")
            else:
                self._html(404, "error.html", message="no such page", title="Not found")
        except CaseNotFound as error:
            self._html(404, "error.html", message=str(error), title="Not found")

    def _models(self) -> dict[str, Any]:
        from securebank.monitoring.live import live_decisions, live_labels
        from securebank.monitoring.performance import label_decisions, performance

        frame = live_decisions(self.server.s3, self.server.names.lake_bucket)
        labelled = label_decisions(
            frame,
            live_labels(self.server.operations.labels),
            int(time.time() * 1000),
            self.server.maturity_days,
        )
        return {
            "rows": performance(labelled, "model_version").to_dict("records"),
            "decisions": len(frame),
            "matured": len(labelled),
            "maturity_days": self.server.maturity_days,
        }

    def do_POST(self) -> None:
        route = urllib.parse.urlsplit(self.path).path
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_FORM_BYTES:
            self.close_connection = True
            self._html(413, "error.html", message="form too large", title="Refused")
            return
        form = urllib.parse.parse_qs(self.rfile.read(int(length)).decode("utf-8", "replace"))
        if not secrets.compare_digest(form.get("token", [""])[0], self.server.token):
            self._html(403, "error.html", message="stale or foreign form", title="Refused")
            return
        parts = route.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "cases" or parts[2] not in ("resolve", "assign"):
            self._html(404, "error.html", message="no such action", title="Not found")
            return
        case_id = urllib.parse.unquote(parts[1])
        operations = self.server.operations
        try:
            if parts[2] == "resolve":
                operations.resolve(
                    case_id,
                    form.get("outcome", [""])[0],
                    form.get("note", [""])[0],
                    self.server.analyst,
                )
            else:
                operations.assign(case_id, form.get("to", [""])[0], self.server.analyst)
        except CaseNotFound as error:
            self._html(404, "error.html", message=str(error), title="Not found")
            return
        except (CaseConflict, CaseError) as error:
            message = urllib.parse.quote(str(error))
            self._redirect(f"/cases/{urllib.parse.quote(case_id)}?message={message}")
            return
        self._redirect(f"/cases/{urllib.parse.quote(case_id)}")
