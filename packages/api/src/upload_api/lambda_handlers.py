"""AWS Lambda entry points of the api package (wired by terraform/modules/workers and api).

Each builds its context once per Lambda container (on first call) and reuses it across invocations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from typing import Any

from upload_api.context import ApiContext, build_context
from upload_api.notify.health_webhook import post_health_report
from upload_api.notify.sender import IngestSender
from upload_api.workers.deletion import handle_deletion_message
from upload_api.workers.dispatcher import DispatchReport, dispatch_until_empty
from upload_api.workers.expiry_sweep import sweep_expired_areas
from upload_api.workers.scheduler import handle_scheduling_message, validation_job_runner
from upload_api.workers.upload_sweep import sweep_upload_sessions
from upload_api.workers.validation_sweep import sweep
from upload_common.consumers import sqs_batch_response
from upload_common.health_report import compute_health_report
from upload_common.service_context import ServiceContext, build_service_context
from upload_common.settings import Settings, load_settings

# Leave this much of the Lambda's time for re-queuing and returning.
SAFETY_MARGIN_SECONDS = 30.0

logger = logging.getLogger(__name__)

_RAW_PATH: ContextVar[str | None] = ContextVar("raw_path", default=None)


@cache
def _context() -> ApiContext:
    return build_context(load_settings(Settings))


@cache
def _asgi_handler() -> Any:
    from mangum import Mangum  # noqa: PLC0415 - only the API Lambda needs it

    from upload_api.app import create_app  # noqa: PLC0415

    return Mangum(_EventRawPath(create_app(_context())), lifespan="off")


def api_handler(event: dict[str, Any], lambda_context: Any) -> Any:
    """API Gateway (HTTP API) → the connexion app.

    Mangum routes on the decoded path, which would split a name's `%2F` into two segments; the HTTP
    API event's `rawPath` keeps the encoding and becomes the request's raw path (see
    `upload_api.app.RawPathMiddleware`), so each name is decoded exactly once, by its handler.
    """
    token = _RAW_PATH.set(event.get("rawPath") or None)
    try:
        return _asgi_handler()(event, lambda_context)
    finally:
        _RAW_PATH.reset(token)


class _EventRawPath:
    """Gives the ASGI scope the raw path of the Lambda event being handled."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raw = _RAW_PATH.get()
        if raw and scope["type"] == "http":
            scope = {**scope, "raw_path": raw.encode("utf-8")}
        await self.app(scope, receive, send)


def deletion_handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    """SQS deletion queue → delete areas, re-queuing before the Lambda runs out of time."""
    context = _context()
    time_left = _time_left(lambda_context)
    return sqs_batch_response(event, lambda body: handle_deletion_message(context, body, time_left=time_left))


def dispatcher_handler(event: dict[str, Any], lambda_context: Any) -> dict[str, int | bool]:
    """Schedule (EventBridge) → deliver due notifications until none is due or time runs short.

    The function's timeout must exceed SAFETY_MARGIN_SECONDS plus the dispatcher's lease (60 s):
    rows are claimed only while a whole lease of time is left. Returns the counts.
    """
    context = _context()
    if not context.settings.ingest_url:
        logger.info("UPLOAD_INGEST_URL is not set: notifications are kept PENDING, not sent")
        return DispatchReport(idle=True).as_dict()

    with IngestSender.from_settings(context.settings) as sender:
        report = dispatch_until_empty(context, sender=sender, time_left=_time_left(lambda_context))
    logger.info("dispatch: %s", report.as_dict())
    return report.as_dict()


def _time_left(lambda_context: Any) -> Callable[[], float]:
    """Seconds this invocation may still work: the Lambda's remaining time less SAFETY_MARGIN_SECONDS."""

    def time_left() -> float:
        return float(lambda_context.get_remaining_time_in_millis()) / 1000 - SAFETY_MARGIN_SECONDS

    return time_left


def scheduler_handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    """SQS validation queue → one AWS Batch job per validation."""
    context = _validation_context()
    return sqs_batch_response(event, lambda body: handle_scheduling_message(context, body))


def validation_sweep_handler(event: dict[str, Any], lambda_context: Any) -> dict[str, int]:
    """Schedule → fail validations whose job failed; re-queue those whose message was lost; expire
    upload sessions past their expiry (their parts deleted)."""
    context = _validation_context()
    report = sweep(context)
    expired = sweep_upload_sessions(context)
    return {"requeued": report.requeued, "failed": report.failed, "upload_sessions_expired": expired}


def area_expiry_handler(event: dict[str, Any], lambda_context: Any) -> dict[str, int]:
    """Schedule → warn of expiring areas (`area_expiring`) and queue the deletion of expired ones."""
    result = sweep_expired_areas(_expiry_context())
    return {"warned": len(result.warned), "queued_for_deletion": len(result.to_delete)}


def health_report_handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    """Daily schedule → the health report, posted to UPLOAD_HEALTH_WEBHOOK_URL (from its secret). A
    webhook that refuses it fails the invocation, so the function's Errors alarm tells the operator."""
    context = _health_context()
    report = compute_health_report(context)
    logger.info("health report: %s", report.as_dict())
    if context.settings.health_webhook_url is not None:
        post_health_report(context.settings, report)
    return report.as_dict()


@cache
def _health_context() -> ServiceContext:
    # Not the API's context: the report needs neither Api-Keys nor the credential issuers (nor their secrets).
    return build_service_context(load_settings(Settings))


@cache
def _expiry_context() -> ServiceContext:
    # Not the API's context either: the sweep needs the database and the deletion queue, no keys.
    return build_service_context(load_settings(Settings))


@cache
def _validation_context() -> ApiContext:
    context = _context()
    context.job_runner = validation_job_runner(context.settings)
    return context
