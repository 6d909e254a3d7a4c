"""The submitter's upload page: `GET /v2/areas/{uuid}/page` and its assets under `/v2/page-assets/`.

The page itself needs no authority: the link's token sits in the URL fragment, which the browser never
sends, so it stays out of every log; the page's script sends it as the `Submitter-Link` header. The
script and style ship inside this package and the Content-Security-Policy allows nothing else: no
inline script, no external request except part uploads to the store's own origin (S3's presigned URLs).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from urllib.parse import urlsplit

from flask import Response

from upload_api.context import ApiContext
from upload_api.handlers._request import area, context

_ASSETS = {"upload-page.js": "text/javascript", "upload-page.css": "text/css"}


def page(upload_area_uuid: str) -> Response:
    area(upload_area_uuid)  # a malformed uuid is a 400, as everywhere
    response = Response(_read("upload-page.html"), status=200, mimetype="text/html")
    response.headers["Content-Security-Policy"] = content_security_policy(context())
    response.headers["Cache-Control"] = "no-store"
    return _hardened(response)


def asset(asset: str) -> Response:
    # The spec's enum admits only the names in _ASSETS.
    response = Response(_read(asset), status=200, mimetype=_ASSETS[asset])
    response.headers["Cache-Control"] = "public, max-age=300"
    return _hardened(response)


def content_security_policy(ctx: ApiContext) -> str:
    """Only this API's own script, style and requests; parts may also go to the store's origin."""
    connect = " ".join(["'self'", *filter(None, [part_upload_origin(ctx)])])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        f"connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def part_upload_origin(ctx: ApiContext) -> str | None:
    """The origin of the store's presigned part URLs (S3's endpoint, virtual-hosted or not), or None
    when parts go to this API (the local store). Signing is local: no request is made."""
    url = ctx.store.presign_upload_part("page/origin-probe", "probe", 1, expires_in=60)
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _hardened(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@cache
def _read(name: str) -> bytes:
    return files("upload_api").joinpath("page", name).read_bytes()
