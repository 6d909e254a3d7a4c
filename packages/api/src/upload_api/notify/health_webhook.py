"""Posting the health report (`upload_common.health_report`) to a Slack-compatible incoming webhook.

The webhook URL is a secret (whoever has it can post to the channel): no error message names it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from upload_common.errors import ConfigurationError, HealthReportUndeliveredError
from upload_common.health_report import HealthReport
from upload_common.settings import Settings

ERROR_BODY_CHARS = 200


def post_health_report(settings: Settings, report: HealthReport) -> None:
    """POST the report's Slack message to `UPLOAD_HEALTH_WEBHOOK_URL`; a non-2xx answer or a receiver
    that cannot be reached raises `HealthReportUndeliveredError`."""
    if settings.health_webhook_url is None:
        raise ConfigurationError("UPLOAD_HEALTH_WEBHOOK_URL: not set, so the report cannot be posted")
    url = settings.health_webhook_url.get_secret_value()
    try:
        scheme = httpx.URL(url).scheme
    except httpx.InvalidURL:
        scheme = ""
    if scheme not in ("http", "https"):
        raise ConfigurationError("UPLOAD_HEALTH_WEBHOOK_URL: not an http:// or https:// URL")
    body: dict[str, Any] = report.slack_message()
    try:
        # No redirects: a 3xx is not a delivery, and following it would post the report elsewhere.
        with httpx.Client(timeout=settings.notification_timeout_seconds, follow_redirects=False) as client:
            response = client.post(
                url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )
    except httpx.TimeoutException as exc:
        raise HealthReportUndeliveredError(
            f"the health webhook did not answer in time ({type(exc).__name__})"
        ) from None
    except httpx.HTTPError as exc:
        # The transport error's kind (refused, DNS, TLS), never the URL.
        raise HealthReportUndeliveredError(
            f"the health webhook could not be reached ({type(exc).__name__})"
        ) from None
    if not response.is_success:
        excerpt = " ".join(response.text[:ERROR_BODY_CHARS].split())
        raise HealthReportUndeliveredError(
            f"the health webhook refused the report: HTTP {response.status_code}"
            + (f": {excerpt}" if excerpt else "")
        )
