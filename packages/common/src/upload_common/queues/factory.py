"""Open a logical queue from settings: `db://` is the embedded database queue, an http(s) URL is SQS.

For SQS, `UPLOAD_QUEUE_URL` is a prefix: the queue `checksum` lives at `<UPLOAD_QUEUE_URL>-checksum`,
as Terraform names it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import Engine

from upload_common import boto_clients
from upload_common.errors import ConfigurationError
from upload_common.queues.base import MessageQueue
from upload_common.queues.database import DatabaseQueue
from upload_common.queues.sqs import SqsQueue
from upload_common.settings import Settings

QUEUE_NAMES = ("checksum", "deletion", "validation")
DATABASE_QUEUE_URL = "db://"
VALID_FORMS = (
    "db:// (the embedded queue in the service database), "
    "https://sqs.<region>.amazonaws.com/<account>/<prefix> or any http(s)://<endpoint>/<account>/<prefix> "
    "(SQS; the queue <name> is <prefix>-<name>)"
)
_AWS_SQS_HOST = re.compile(r"^sqs\.([a-z0-9-]+)\.amazonaws\.com$")


def open_queue(settings: Settings, engine: Engine | None, name: str, **options: Any) -> MessageQueue:
    """The queue `name` (one of `QUEUE_NAMES`) on the backend `settings.queue_url` names.

    `engine` is the service database (needed for `db://`); `options` go to `DatabaseQueue`
    (`max_receives`, `visibility_timeout`). A bad URL raises `ConfigurationError` naming the variable.
    """
    if name not in QUEUE_NAMES:
        raise ConfigurationError(f"unknown queue {name!r}; the queues are {', '.join(QUEUE_NAMES)}")
    url = settings.queue_url
    if url == DATABASE_QUEUE_URL:
        if engine is None:
            raise ConfigurationError("UPLOAD_QUEUE_URL=db:// needs the service database engine")
        options.setdefault("visibility_timeout", settings.queue_visibility_timeout_seconds)
        return DatabaseQueue(engine, name, **options)
    parts = check_queue_url(url)
    client_options: dict[str, Any] = {}
    aws_host = _AWS_SQS_HOST.match(parts.hostname or "")
    if aws_host:
        client_options["region_name"] = aws_host.group(1)
    else:
        # An emulator or VPC endpoint: send requests where the URL points.
        client_options["endpoint_url"] = f"{parts.scheme}://{parts.netloc}"
    return SqsQueue(f"{url}-{name}", boto_clients.client("sqs", settings, **client_options))


def check_queue_url(url: str) -> SplitResult:
    """The parsed SQS prefix URL, or `ConfigurationError` listing the valid forms of UPLOAD_QUEUE_URL."""
    if url == DATABASE_QUEUE_URL:
        return urlsplit(url)
    parts = urlsplit(url)
    path = parts.path.strip("/")
    if parts.scheme not in ("http", "https") or not parts.netloc or not path or parts.query or parts.fragment:
        raise ConfigurationError(f"UPLOAD_QUEUE_URL: {url!r} is not a queue URL; valid forms: {VALID_FORMS}")
    return parts
