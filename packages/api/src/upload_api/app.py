"""The ASGI application: connexion 3 (Flask) serving the OpenAPI spec in `openapi/upload-api.yml`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import connexion
from connexion.datastructures import MediaTypeDict
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.validators import VALIDATOR_MAP
from starlette.types import ASGIApp, Receive, Scope, Send

from upload_api import problems
from upload_api.auth import ContextMiddleware
from upload_api.body_framing import BodyFramingMiddleware
from upload_api.context import ApiContext, build_context
from upload_api.handlers._request import CONTEXT_KEY, ORIGINAL_CONTENT_TYPE
from upload_api.rate_limits import RateLimiter, RateLimitMiddleware
from upload_common.domain.images import allowed_validator_images
from upload_common.errors import InvalidInputError, UploadError
from upload_common.settings import Settings, load_settings

SPEC_DIR = Path(__file__).parent / "openapi"
SPEC_FILE = "upload-api.yml"


def create_app(
    context: ApiContext | None = None, *, rate_limiter: RateLimiter | None = None
) -> connexion.FlaskApp:
    """The API for `context` (default: built from the `UPLOAD_*` environment); `rate_limiter` (default:
    from the context's settings) limits the unauthenticated endpoints."""
    context = context or build_context(load_settings(Settings))
    allowed_validator_images(context.settings)  # on AWS Batch an unset allow-list stops start-up here
    app = connexion.FlaskApp(__name__, specification_dir=SPEC_DIR)
    app.add_api(
        SPEC_FILE,
        strict_validation=True,
        validate_responses=False,
        validator_map={
            "body": MediaTypeDict(
                {media: _edge_validator(cls) for media, cls in VALIDATOR_MAP["body"].items()}
            )
        },
        swagger_ui_options=SwaggerUIOptions(spec_path="/v1/openapi.json", swagger_ui_path="/v1/ui"),
    )
    app.app.config[CONTEXT_KEY] = context
    problems.register(app.app)
    app.add_error_handler(UploadError, problems.asgi_domain_error)
    app.add_middleware(ContextMiddleware, position=MiddlewarePosition.BEFORE_SECURITY, context=context)
    app.add_middleware(RawPathMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(OpaqueFileBodyMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(BodyFramingMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(
        RateLimitMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        limiter=rate_limiter or RateLimiter.from_settings(context.settings),
        api_keys=context.api_keys,
    )
    return app


def _edge_validator(validator: type[Any]) -> type[Any]:
    """`validator`, except that it leaves alone a body whose operation declares no schema for it, and
    refuses a body that does not decode to valid Unicode with a 400 (connexion would answer 500).

    The file PUT accepts any media type (JSON and forms included) and streams the body to the store
    unread; connexion would otherwise parse and buffer such bodies.
    """

    class EdgeValidator(validator):  # type: ignore[misc]
        async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
            if set(self._schema) <= {"components"}:  # connexion attaches the spec's components to any schema
                return receive, scope
            wrapped: tuple[Receive, Scope] = await super().wrap_receive(receive, scope=scope)
            return wrapped

        async def _parse(self, stream: Any, scope: Scope) -> Any:
            try:
                body = await super()._parse(stream, scope)
            except (UnicodeDecodeError, LookupError):  # bytes that are no text, or an unknown charset
                raise InvalidInputError(f"the request body is not valid {self._encoding}") from None
            _refuse_unstorable_text(body)
            return body

    EdgeValidator.__name__ = f"Edge{validator.__name__}"
    return EdgeValidator


# JSON escapes can spell what is no text: unpaired surrogates (not Unicode), NUL (PostgreSQL refuses it).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _refuse_unstorable_text(value: Any) -> None:
    """`InvalidInputError` if a parsed JSON value holds a string with an unpaired surrogate or a NUL."""
    if isinstance(value, str) and _UNSTORABLE.search(value):
        raise InvalidInputError(
            "a string in the request body holds NUL or an unpaired surrogate (\\ud800-\\udfff)"
        )
    items = (
        [*value.keys(), *value.values()]
        if isinstance(value, dict)
        else value
        if isinstance(value, list)
        else []
    )
    for item in items:
        _refuse_unstorable_text(item)


class RawPathMiddleware:
    """Route on the raw path, so that `%2F` inside a file name stays inside its path segment.

    ASGI servers decode the path before routing, which would turn `a%2Fb` into two segments. The
    handlers decode each file name exactly once instead (`upload_api.names.decode_filename`). Behind
    API Gateway, Mangum gives no `raw_path`; `upload_api.lambda_handlers.api_handler` then puts the event's
    still-encoded `rawPath` into `path`, which is used as the raw path here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode("utf-8")
            scope = dict(scope)
            scope["raw_path"] = raw
            scope["path"] = raw.decode("latin-1")
        await self.app(scope, receive, send)


# PUT /v1/area/{uuid}/{filename}: one raw path segment after the area, other than the area-level PUTs;
# and an upload session's part (its bytes are a slice of any file).
_FILE_PUT = re.compile(
    r"^/v1/area/[^/]+/(?!files_info$|validate$)[^/]+$|^/v2/areas/[^/]+/uploads/[^/]+/parts/[^/]+$"
)


class OpaqueFileBodyMiddleware:
    """Hands a file PUT's body to the handler as opaque bytes, whatever its Content-Type says.

    A file may well be JSON or even a multipart document; connexion and werkzeug would parse (and
    consume) such bodies. The request's own Content-Type travels in a header of our own, which a
    client can never set itself (it is always removed first).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(name, value) for name, value in scope["headers"] if name != ORIGINAL_CONTENT_TYPE]
            raw = scope.get("raw_path") or scope["path"].encode("utf-8")
            if scope["method"] == "PUT" and _FILE_PUT.match(raw.decode("latin-1")):
                content_type = next((value for name, value in headers if name == b"content-type"), None)
                if content_type is not None:
                    headers = [(name, value) for name, value in headers if name != b"content-type"]
                    headers += [
                        (b"content-type", b"application/octet-stream"),
                        (ORIGINAL_CONTENT_TYPE, content_type),
                    ]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
