"""The model server: SageMaker's container contract plus the SageMaker Runtime wire API.

* `GET /ping`, `POST /invocations`: the serving container contract (port 8080 by default).
* `POST /endpoints/{name}/invocations`: what `boto3.client("sagemaker-runtime").invoke_endpoint`
  sends, with `X-Amzn-SageMaker-Target-Variant`, `-Custom-Attributes` (`explain=all|none|flagged`,
  `explain_method=treeshap|approx-contribs`) and `-Inference-Id`; answers with
  `x-Amzn-Invoked-Production-Variant` so the stream scorer runs unchanged against it.
* `GET /variants` and `POST /admin/config`: live status and the atomic switch of variants used by
  `securebank model deploy/promote/rollback`; bound to 127.0.0.1 only.

Built on the standard library's threading HTTP server with keep-alive and TCP_NODELAY: the model
scores one row in about 0.1 ms, so the server's own overhead decides the latency. SIGTERM drains
it (securebank/graceful.py): requests in flight are answered before it exits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from securebank.graceful import DrainingHandler, DrainingServer
from securebank.inference.endpoint import Endpoint, EndpointConfig, UnknownVariant
from securebank.inference.explain import APPROXIMATE, EXACT
from securebank.inference.payload import MAX_PAYLOAD_BYTES, PayloadError, parse_payload

JSON_TYPE = "application/json"
#: The error types the SageMaker Runtime API answers with (boto3 raises them by these names).
ERROR_TYPES = {
    400: "ValidationError",
    403: "AccessDenied",
    404: "ValidationError",
    413: "ValidationError",
    415: "ValidationError",
    424: "ModelError",
    503: "ServiceUnavailable",
}

CaptureSink = Callable[[dict[str, Any]], None]


def parse_custom_attributes(header: str | None) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for part in (header or "").split(","):
        key, sep, value = part.partition("=")
        if sep:
            attributes[key.strip()] = value.strip()
    return attributes


class ModelServer(DrainingServer, ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        endpoint: Endpoint,
        capture: CaptureSink | None = None,
    ) -> None:
        super().__init__(address, RequestHandler)
        self.endpoint = endpoint
        self.capture = capture

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class RequestHandler(DrainingHandler, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    # Buffer the response so status line, headers and body leave in one send; the handler
    # flushes after every request.
    wbufsize = 1 << 16
    server: ModelServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging: bodies and ids could reach logs, and it costs latency."""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, error_type: str | None = None) -> None:
        kind = error_type or ERROR_TYPES.get(status, "InternalFailure")
        body = json.dumps({"message": message, "error": kind}).encode()
        self._send(status, body, {"x-amzn-ErrorType": kind})

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True
            self._error(413, f"payload of {length} bytes exceeds {MAX_PAYLOAD_BYTES}")
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path == "/ping":
            if self.server.endpoint.ready:
                self._send(200, b'{"status":"healthy"}')
            else:
                self._error(503, "no model is loaded")
        elif self.path == "/variants":
            self._send(200, json.dumps(self.server.endpoint.status()).encode())
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        body = self._body()
        if body is None:
            return
        path = self.path.split("?")[0]
        if path == "/invocations":
            self._invoke(body, runtime_api=False)
        elif path.startswith("/endpoints/") and path.endswith("/invocations"):
            name = unquote(path[len("/endpoints/") : -len("/invocations")])
            config = self.server.endpoint.config
            if config is not None and name != config.name:
                self._error(400, f"Endpoint {name} not found.", "ValidationError")
                return
            self._invoke(body, runtime_api=True)
        elif path == "/admin/config":
            self._configure(body)
        else:
            self._error(404, f"no route {self.path}")

    def _invoke(self, body: bytes, runtime_api: bool) -> None:
        endpoint = self.server.endpoint
        if not endpoint.ready:
            self._error(503, "no model is loaded")
            return
        attributes = parse_custom_attributes(self.headers.get("X-Amzn-SageMaker-Custom-Attributes"))
        explain = attributes.get("explain", "flagged")
        method = attributes.get("explain_method", EXACT)
        if explain not in ("flagged", "all", "none") or method not in (EXACT, APPROXIMATE):
            self._error(
                400,
                "custom attributes: explain=flagged|all|none, "
                f"explain_method={EXACT}|{APPROXIMATE}",
            )
            return
        try:
            variant = endpoint.pick(self.headers.get("X-Amzn-SageMaker-Target-Variant"))
            x = parse_payload(
                body, self.headers.get("Content-Type"), variant.model.manifest.feature_names
            )
        except PayloadError as error:
            self._error(error.status, str(error))
            return
        except UnknownVariant as error:
            self._error(400, str(error))
            return
        try:
            scored = endpoint.score(x, variant, explain=explain, method=method)
        except Exception as error:
            self._error(424, f"model failed to score: {type(error).__name__}")
            return
        payload = json.dumps(
            {
                "predictions": scored.rows,
                "model_version": scored.model_version,
                "thresholds": scored.thresholds,
            }
        ).encode()
        headers = {"x-Amzn-Invoked-Production-Variant": scored.variant}
        custom = f"model_version={scored.model_version}"
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom
        self._send(200, payload, headers)
        if endpoint.config and endpoint.config.shadow and self.server.capture is not None:
            shadow = endpoint.score_shadow(x)
            self.server.capture(
                {
                    "inference_id": self.headers.get("X-Amzn-SageMaker-Inference-Id"),
                    "production": {
                        "variant": scored.variant,
                        "model_version": scored.model_version,
                        "scores": [r["score"] for r in scored.rows],
                    },
                    "shadow": shadow,
                }
            )

    def _configure(self, body: bytes) -> None:
        if self.client_address[0] not in ("127.0.0.1", "::1"):
            self._error(403, "configuration is accepted from loopback only", "AccessDenied")
            return
        try:
            config = EndpointConfig.from_dict(json.loads(body))
            self.server.endpoint.apply(config)
        except Exception as error:
            self._error(400, f"configuration refused: {error}")
            return
        self._send(200, json.dumps(self.server.endpoint.status()).encode())


def start_in_thread(server: ModelServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="model-server", daemon=True)
    thread.start()
    return thread
