"""Internal callbacks of jobs, authorised by the per-job token (see `upload_api.auth`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response

from upload_api.handlers import _request as req
from upload_api.services.checksum_reports import record_checksum_report
from upload_api.services.validations import record_validation_report


def update_checksum(upload_area_uuid: str, record_id: str, body: dict[str, Any]) -> Response:
    return _record(record_checksum_report, upload_area_uuid, record_id, body)


def update_validation(upload_area_uuid: str, record_id: str, body: dict[str, Any]) -> Response:
    return _record(record_validation_report, upload_area_uuid, record_id, body)


def _record(
    service: Callable[..., None], upload_area_uuid: str, record_id: str, body: dict[str, Any]
) -> Response:
    service(
        req.context(),
        req.area(upload_area_uuid),
        record_id,
        status=body["status"],
        job_id=body.get("job_id"),
        payload=body.get("payload") or {},
    )
    return req.empty(204)
