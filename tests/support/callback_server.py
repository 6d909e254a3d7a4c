"""A stand-in for the API's job callbacks: an HTTP server on 127.0.0.1 that records every POST."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
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
    """Records every POST; answers with the queued status codes, then 204. A POST to a path listed in
    `bodies` is answered 201 with the JSON its function returns (a queued status code still wins)."""

    url_base: str
    reports: list[Report] = field(default_factory=list)
    answers: deque[int] = field(default_factory=deque)
    bodies: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def statuses(self) -> list[str]:
        return [report.body["status"] for report in self.status_reports()]

    def final(self) -> Report:
        return self.status_reports()[-1]

    def status_reports(self) -> list[Report]:
        """The reports (`{status, job_id, payload}`), without the other calls."""
        return [report for report in self.reports if "status" in report.body]


@contextmanager
def serve_callbacks() -> Iterator[CallbackServer]:
    state = CallbackServer(url_base="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            state.reports.append(Report(self.path, self.headers.get("Authorization"), body))
            answer = b""
            if state.answers:
                status = state.answers.popleft()
            elif self.path in state.bodies:
                status, answer = 201, json.dumps(state.bodies[self.path]()).encode()
            else:
                status = 204
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            if answer:
                self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

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
