"""An STS client whose AssumeRole gets STS's own error document back, as AWS answers a DurationSeconds
the role cannot grant (moto does not check durations against the role). The XML goes through botocore's
own parser, as AWS's answer would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse

from upload_common import boto_clients

ABOVE_MAX_SESSION_DURATION = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
ABOVE_ROLE_CHAINING_LIMIT = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
)


def sts_refusing(message: str, code: str = "ValidationError") -> Any:
    """An STS client (moto's endpoint otherwise) whose every AssumeRole fails with `code` and `message`."""
    sts = boto_clients.client("sts")
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
    ).encode()

    def refuse(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(body))

    sts.meta.events.register("before-send.sts.AssumeRole", refuse)
    return sts


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body
