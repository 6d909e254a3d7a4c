"""One delivery attempt of one notification: a POST to the ingestion service, signed per Standard
Webhooks (`upload_api.notify.signing`) with the attempt's own timestamp.

The outcome is returned, never raised: a receiver that is down, slow or answering an error is an
ordinary event that the dispatcher records and retries.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from upload_api.notify.service_account import ServiceAccountToken
from upload_api.notify.signing import EVENT_HEADER, encode_body, new_secret, signed_headers, signing_key
from upload_common.errors import ConfigurationError
from upload_common.generated_secrets import resolve_secret
from upload_common.settings import Settings

ERROR_BODY_CHARS = 200  # how much of a refusing receiver's answer is kept in `last_error`


@dataclass(frozen=True)
class DeliveryOutcome:
    """`delivered` on a 2xx answer; otherwise `error` says briefly why (never a header or a secret)."""

    delivered: bool
    error: str | None = None


class IngestSender:
    """POSTs notifications to `base_url` + target; one connection pool, reused across attempts.

    `secret` is `whsec_<base64>` or a plain string (its UTF-8 bytes are the key); `clock` gives the
    attempt's timestamp (Unix seconds).
    """

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        timeout: float,
        token: ServiceAccountToken | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._key = signing_key(secret)
        self._token = token
        self._clock = clock
        # No redirects: a 3xx is not a delivery, and following one would re-send the signed body elsewhere.
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestSender:
        """The sender the settings describe; `UPLOAD_INGEST_URL` must be set."""
        if not settings.ingest_url:
            raise ConfigurationError("UPLOAD_INGEST_URL: not set, so notifications cannot be sent")
        try:
            scheme = httpx.URL(settings.ingest_url).scheme
        except httpx.InvalidURL:
            scheme = ""
        if scheme not in ("http", "https"):
            raise ConfigurationError("UPLOAD_INGEST_URL: not an http:// or https:// URL")
        return cls(
            settings.ingest_url,
            resolve_secret(settings.ingest_secret, settings.var_dir, "ingest_secret", generate=new_secret),
            timeout=settings.notification_timeout_seconds,
            token=ServiceAccountToken.from_settings(settings),
        )

    def send(
        self, notification_id: uuid.UUID, event_type: str, target: str, payload: Mapping[str, Any]
    ) -> DeliveryOutcome:
        """Make one attempt; a 2xx answer is a delivery, anything else an error to retry.

        The id is the notification's (the same on every attempt, so the receiver drops duplicates);
        the timestamp is now, so each attempt is signed afresh and a stale capture is refused.
        """
        body = encode_body(event_type, payload)
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: event_type,
            **signed_headers(self._key, str(notification_id), int(self._clock()), body),
        }
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.bearer()}"
        try:
            with self._client.stream(
                "POST", self._base_url + target, content=body, headers=headers
            ) as response:
                if response.is_success:
                    return DeliveryOutcome(True)
                excerpt = _body_excerpt(response)
        except httpx.TimeoutException as exc:
            return DeliveryOutcome(False, f"timed out ({type(exc).__name__})")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # Transport errors name the failure (refused, reset, DNS); the URL and headers are not included.
            return DeliveryOutcome(False, f"{type(exc).__name__}: {str(exc)[:ERROR_BODY_CHARS]}")
        error = f"HTTP {response.status_code}"
        return DeliveryOutcome(False, f"{error}: {excerpt}" if excerpt else error)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> IngestSender:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _body_excerpt(response: httpx.Response) -> str:
    """The start of the answer's body, read only as far as needed (a refusal may be large)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= ERROR_BODY_CHARS * 4:  # enough bytes for ERROR_BODY_CHARS characters of UTF-8
            break
    text = b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")
    return " ".join(text[:ERROR_BODY_CHARS].split())
