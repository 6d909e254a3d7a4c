"""A request body ends only where its framing says: at its Content-Length, or at the final chunk.

ASGI servers report a connection that closes mid-body as `http.disconnect`, and the WSGI bridge under
Flask (a2wsgi) reads that as the end of the body, so a cut-off upload would look complete. Here a
disconnect before the framing's end, or a body whose length differs from its Content-Length (behind API
Gateway, Mangum hands over the whole body at once), raises `IncompleteBodyError` out of `receive`, in
the middle of whatever reads the body: the write it feeds is abandoned (the stores remove their
temporary data), nothing is recorded, and one log line says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from upload_common.errors import InvalidInputError

logger = logging.getLogger(__name__)


class IncompleteBodyError(InvalidInputError):
    """The request body did not end where its framing says it ends."""


@dataclass
class _Framing:
    declared: int | None  # Content-Length; None for a chunked body
    received: int = 0
    complete: bool = False
    aborted: str | None = None

    def check(self, message: Message) -> None:
        if self.complete:
            return  # the body is whole; a later disconnect is only the client leaving
        if message["type"] == "http.disconnect":
            until = (
                f"its Content-Length of {self.declared}" if self.declared is not None else "the final chunk"
            )
            self._abort(f"the connection closed after {self.received} bytes of the body, before {until}")
        if message["type"] != "http.request":
            return
        self.received += len(message.get("body", b""))
        self.complete = not message.get("more_body", False)
        too_long = self.declared is not None and self.received > self.declared
        if too_long or (self.complete and self.declared not in (None, self.received)):
            self._abort(f"the body has {self.received} bytes, its Content-Length says {self.declared}")

    def _abort(self, reason: str) -> None:
        self.aborted = reason
        raise IncompleteBodyError(f"{reason}: the request is abandoned")


class BodyFramingMiddleware:
    """Raises `IncompleteBodyError` from `receive` when a body does not end where its framing says."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framing = _Framing(declared=_content_length(scope))

        async def framed_receive() -> Message:
            message = await receive()
            framing.check(message)
            return message

        try:
            await self.app(scope, framed_receive, send)
        finally:
            # Logged once the app is done with the request, so whatever it cleaned up is gone by now.
            if framing.aborted is not None:
                logger.warning(
                    "%s %s aborted: %s; nothing was stored or recorded",
                    scope["method"],
                    scope.get("raw_path", b"").decode("latin-1") or scope["path"],
                    framing.aborted,
                )


def _content_length(scope: Scope) -> int | None:
    values = [value for name, value in scope["headers"] if name == b"content-length"]
    try:
        return int(values[0]) if len(values) == 1 else None
    except ValueError:
        return None  # the server refuses such a request before the app sees it
