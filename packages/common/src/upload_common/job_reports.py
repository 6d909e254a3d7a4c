"""Job reports to the API: `POST <callback url>` with `{status, job_id, payload}`, retried with backoff.

Used by the checksum job (`update_checksum`) and the validation harness (`update_validation`, and
`…/staging-credentials` for credentials that read only its files).

Connection errors, timeouts and 5xx answers are retried (exponential backoff with jitter); a 4xx answer
is final. The token goes in `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from upload_common.errors import CallbackRejectedError, CallbackUndeliveredError

REQUEST_TIMEOUT_SECONDS = 30
_log = logging.getLogger(__name__)


class _TransientError(Exception):
    """One failed attempt worth retrying."""


class Reporter:
    """Delivers the reports of one job."""

    def __init__(
        self, url: str, token: str, job_id: str | None, *, attempts: int = 5, retry_wait: float = 1.0
    ) -> None:
        self._url = url
        self._token = token
        self._job_id = job_id
        self._attempts = attempts
        self._retry_wait = retry_wait

    def report(self, status: str, payload: Mapping[str, Any]) -> None:
        """Deliver one report, or raise `CallbackRejectedError` (4xx) / `CallbackUndeliveredError`."""
        body = {"status": status, "job_id": self._job_id, "payload": dict(payload)}
        self.post(self._url, body, what=f"report {status}")
        _log.info("reported %s", status)

    def post(self, url: str, body: Mapping[str, Any], *, what: str) -> Any:
        """POST `body` to another endpoint of the job's (same token, same retries); returns the
        answer's JSON (None when it has no body). `what` names the call in errors and logs."""
        data = json.dumps(dict(body)).encode()
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(
                multiplier=self._retry_wait, max=max(self._retry_wait * 30, 0.001), jitter=self._retry_wait
            ),
            retry=retry_if_exception_type(_TransientError),
            before_sleep=lambda state: _log.warning(
                "%s failed (attempt %d of %d): %s; retrying",
                what,
                state.attempt_number,
                self._attempts,
                state.outcome.exception() if state.outcome else "?",
            ),
        )
        try:
            answer = retrying(self._post, url, data)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise CallbackUndeliveredError(
                f"could not {what} to {url} after {self._attempts} attempt(s): {last}"
            ) from None
        try:
            return json.loads(answer) if answer.strip() else None
        except ValueError:
            raise CallbackRejectedError(f"{url} answered with a body that is not JSON") from None

    def _post(self, url: str, body: bytes) -> bytes:
        request = urllib.request.Request(  # noqa: S310 (the URL is the service's own callback, http or https)
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
                answer: bytes = response.read()
                return answer
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if exc.code >= 500:
                raise _TransientError(f"HTTP {exc.code}: {detail}") from None
            raise CallbackRejectedError(f"{url} answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeout
            raise _TransientError(str(getattr(exc, "reason", exc))) from None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(2000).decode("utf-8", errors="replace").strip()
    except OSError:
        text = ""
    finally:
        exc.close()
    return text or str(exc.reason)
