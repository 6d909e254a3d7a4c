"""`/version`, `/health`, `/v1/health`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

import upload_api
from upload_api.handlers._request import context, json_response
from upload_api.problems import problem
from upload_common.errors import UploadError


def version() -> Any:
    return json_response({"upload_service_version": upload_api.__version__})


def health() -> Any:
    ctx = context()
    checks = {"database": "ok", "storage": "ok"}
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure of the database means unhealthy
        checks["database"] = "unavailable"
    try:
        next(iter(ctx.store.list("health-check/", page_size=1)), None)
    except UploadError:
        checks["storage"] = "unavailable"
    if "unavailable" in checks.values():
        down = ", ".join(name for name, state in checks.items() if state != "ok")
        return problem(503, "Service Unavailable", f"unavailable: {down}")
    return json_response({"status": "OK", **checks})


def health_v1() -> Any:
    """The same check under the versioned path (an operation id can serve one path only)."""
    return health()
