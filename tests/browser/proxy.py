"""A small HTTP proxy on 127.0.0.1 in front of the API, for the browser test: it records every upload
part that reaches the API (the server's own count of part PUTs, whatever the page believes it sent) and
can hold parts back, so the test can reload the page in the middle of a file on a condition, not a timer.

Held parts never reach the API: once released they are answered 503 (the page that sent them is gone).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PART = re.compile(r"^/v2/areas/[^/]+/uploads/(?P<session>[^/]+)/parts/(?P<number>[0-9]+)(?:\?|$)")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


@dataclass(frozen=True)
class PartPut:
    session: str
    number: int
    status: int


class CountingProxy:
    """Forwards everything to `upstream_port`; part PUTs numbered above `hold_above` wait while held."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.parts: list[PartPut] = []
        self.hold_above: int | None = None
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def hold_parts_above(self, number: int) -> None:
        self.hold_above = number
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def puts(self) -> list[PartPut]:
        with self._lock:
            return list(self.parts)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._open.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=30)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the API logs what matters

            def _forward(self) -> None:
                part = _PART.match(self.path) if self.command == "PUT" else None
                if part is not None and not proxy._open.is_set():
                    limit = proxy.hold_above
                    if limit is not None and int(part["number"]) > limit:
                        proxy._open.wait()
                        self.close_connection = True
                        with contextlib.suppress(OSError):
                            self.send_error(503, "held back by the test and released after the page left")
                        return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    status, answer_headers = answer.status, answer.getheaders()
                finally:
                    upstream.close()
                if part is not None:
                    with proxy._lock:
                        proxy.parts.append(PartPut(part["session"], int(part["number"]), status))
                self.send_response(status)
                for name, value in answer_headers:
                    if name.lower() not in _HOP_BY_HOP and name.lower() not in {"server", "date"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward  # noqa: N815

        return Handler
