"""AWS Lambda entry points of the api package (wired by terraform/modules/workers and api).

Each builds its context once per Lambda container (on first call) and reuses it across invocations.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from upload_api.context import ApiContext, build_context
from upload_api.workers.deletion import handle_deletion_message
from upload_common.consumers import sqs_batch_response
from upload_common.settings import Settings, load_settings

# Leave this much of the Lambda's time for re-queuing and returning.
SAFETY_MARGIN_SECONDS = 30.0


@cache
def _context() -> ApiContext:
    return build_context(load_settings(Settings))


@cache
def _asgi_handler() -> Any:
    from mangum import Mangum  # noqa: PLC0415 - only the API Lambda needs it

    from upload_api.app import create_app  # noqa: PLC0415

    return Mangum(create_app(_context()), lifespan="off")


def api_handler(event: dict[str, Any], lambda_context: Any) -> Any:
    """API Gateway (HTTP API) → the connexion app."""
    return _asgi_handler()(event, lambda_context)


def deletion_handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    """SQS deletion queue → delete areas, re-queuing before the Lambda runs out of time."""
    context = _context()

    def time_left() -> float:
        return float(lambda_context.get_remaining_time_in_millis()) / 1000 - SAFETY_MARGIN_SECONDS

    return sqs_batch_response(event, lambda body: handle_deletion_message(context, body, time_left=time_left))
