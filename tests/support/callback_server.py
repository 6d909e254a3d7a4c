"""A stand-in for the API's job callbacks: an HTTP server on 127.0.0.1 that records every POST."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Report:
    """One request the callback server received."""

    path: str
    authorization: str | None
    body: dict[str, Any]


@dataclass
class CallbackServer:
    """Records every POST; answers with the queued status codes, then 204."""

    url_base: str
    reports: list[Report] = field(default_factory=list)
    answers: deque[int] = field(default_factory=deque)

    def statuses(self) -> list[str]:
        return [report.body["status"] for report in self.reports]

    def final(self) -> Report:
        return self.reports[-1]


@contextmanager
def serve_callbacks() -> Iterator[CallbackServer]:
    state = CallbackServer(url_base="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            state.reports.append(Report(self.path, self.headers.get("Authorization"), body))
            status = state.answers.popleft() if state.answers else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # keep test output quiet

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url_base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
