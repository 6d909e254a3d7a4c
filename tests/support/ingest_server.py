"""A stand-in for the ingestion service: a real HTTP server on 127.0.0.1 that records what it receives.

It verifies each request's Standard Webhooks signature with the reference library (`standardwebhooks`,
not the service's code: its 5-minute tolerance included), answers 401 to a bad one, can be told to
refuse the next N requests, and can be stopped and started again on the same port to play a receiver
that is down and comes back. A `whsec_` secret is given to the library as is; any other secret as its
UTF-8 bytes (the service's documented mapping).

    with FakeIngest(secret="s") as ingest:       # or FakeIngest(...).start() / .stop()
        settings = Settings(ingest_url=ingest.url, ingest_secret="s", ...)
        ...
        ingest.fail_next(3, status=503)
        ingest.stop(); ...; ingest.start()
        assert ingest.accepted_ids() == [...]
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

ID_HEADER = "webhook-id"


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it arrived; `status` is what the server answered."""

    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int
    verified: bool  # whether the reference verifier accepted it when it arrived

    @property
    def notification_id(self) -> str | None:
        return self.headers.get(ID_HEADER)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


class FakeIngest:
    """The fake receiver; thread-safe. `secret=None` accepts any signature (and checks none)."""

    def __init__(
        self, secret: str | None = None, *, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0
    ) -> None:
        self.secret = secret
        self.delay = delay  # seconds each answer takes (widens the window for races)
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._failures: list[tuple[int, bytes]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The `UPLOAD_*` variables that point a service process at this receiver."""
        variables = {"UPLOAD_INGEST_URL": self.url}
        if self.secret is not None:
            variables["UPLOAD_INGEST_SECRET"] = self.secret
        return variables

    def start(self) -> FakeIngest:
        """Listen (again) on the same port; the first start picks a free one."""
        server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-ingest", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port: connections are refused until `start()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def fail_next(self, count: int, *, status: int = 500, body: bytes = b"ingest is unavailable") -> None:
        """Answer the next `count` requests with `status` and `body` instead of 200."""
        with self._lock:
            self._failures.extend([(status, body)] * count)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def accepted(self) -> list[ReceivedRequest]:
        return [request for request in self.requests if request.accepted]

    def accepted_ids(self) -> list[str]:
        """Ids of the notifications answered 2xx, in arrival order (duplicates included; "" if absent)."""
        return [request.notification_id or "" for request in self.accepted()]

    def signature_valid(self, request: ReceivedRequest) -> bool:
        """Whether `request` passed the reference verifier when it arrived (always, without a secret)."""
        return request.verified

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        """The reference library's verdict on `body` and `headers`, now."""
        if self.secret is None:
            return True
        key = self.secret if self.secret.startswith("whsec_") else self.secret.encode()
        try:
            Webhook(key).verify(body, headers)
        except (WebhookVerificationError, ValueError):  # ValueError: a malformed signature header
            return False
        return True

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Wait until `count` requests were accepted; returns them (raises on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            accepted = self.accepted()
            if len(accepted) >= count:
                return accepted
            time.sleep(0.02)
        raise TimeoutError(f"{len(self.accepted())} of {count} notifications accepted in {timeout} s")

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        with self._lock:
            if self._failures:
                status, reply = self._failures.pop(0)
            else:
                status, reply = 200, b'{"ok": true}'
            verified = self.verify(body, headers)
            if status == 200 and not verified:
                status, reply = 401, b"bad signature"
            self._requests.append(ReceivedRequest(path, headers, body, status, verified))
            return status, reply

    def __enter__(self) -> FakeIngest:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _handler_for(ingest: FakeIngest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a stopped server leaves no kept-alive connection
        # that would still answer.
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            if ingest.delay:
                time.sleep(ingest.delay)
            status, reply = ingest._answer(self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test asserts on the recorded requests instead."""

    return Handler
