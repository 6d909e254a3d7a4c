"""One delivery attempt of one notification: a signed POST to the ingestion service.

The outcome is returned, never raised: a receiver that is down, slow or answering an error is an
ordinary event that the dispatcher records and retries.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from upload_api.notify.service_account import ServiceAccountToken
from upload_api.notify.signing import (
    EVENT_HEADER,
    NOTIFICATION_ID_HEADER,
    SIGNATURE_HEADER,
    encode_body,
    sign,
)
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
    """POSTs notifications to `base_url` + target; one connection pool, reused across attempts."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        timeout: float,
        token: ServiceAccountToken | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        self._token = token
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
            resolve_secret(settings.ingest_secret, settings.var_dir, "ingest_secret"),
            timeout=settings.notification_timeout_seconds,
            token=ServiceAccountToken.from_settings(settings),
        )

    def send(
        self, notification_id: uuid.UUID, event_type: str, target: str, payload: Mapping[str, Any]
    ) -> DeliveryOutcome:
        """Make one attempt; a 2xx answer is a delivery, anything else an error to retry."""
        body = encode_body(payload)
        headers = {
            "Content-Type": "application/json",
            NOTIFICATION_ID_HEADER: str(notification_id),
            EVENT_HEADER: event_type,
            SIGNATURE_HEADER: sign(self._secret, body),
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
