"""A busy local server is waited for, never replaced by a second one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from securebank.local import background


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(1.5)  # longer than the quick health check's 1 s
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_slow_but_live_server_is_recognised_and_a_dead_one_is_not(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state = tmp_path / "server.json"
    try:
        port = server.server_address[1]
        state.write_text(json.dumps({"pid": os.getpid(), "port": port}))
        info = background.read(state, "/health", busy_wait_s=5)
        assert info is not None and info.port == port
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        )
        state.write_text(json.dumps({"pid": int(dead.stdout), "port": port}))
        assert background.read(state, "/health") is None
    finally:
        server.shutdown()
        server.server_close()
