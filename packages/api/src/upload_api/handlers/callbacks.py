"""Internal callbacks of jobs, authorised by the per-job token (see `upload_api.auth`): reports, and
a validation harness's staging credentials."""

from __future__ import annotations

from typing import Any

from flask import Response

from upload_api.handlers import _request as req
from upload_api.services.job_reports import record_job_report
from upload_api.services.validations import issue_staging_credentials
from upload_common.callback_tokens import CallbackKind
from upload_common.domain.jobs import JobReport


def update_checksum(upload_area_uuid: str, record_id: str, body: dict[str, Any]) -> Response:
    return _record("checksum", upload_area_uuid, record_id, body)


def update_validation(upload_area_uuid: str, record_id: str, body: dict[str, Any]) -> Response:
    return _record("validation", upload_area_uuid, record_id, body)


def staging_credentials(upload_area_uuid: str, validation_id: str) -> Response:
    issued = issue_staging_credentials(req.context(), req.area(upload_area_uuid), validation_id)
    return req.json_response(issued.to_json(), 201)


def _record(kind: CallbackKind, upload_area_uuid: str, record_id: str, body: dict[str, Any]) -> Response:
    report = JobReport(status=body["status"], job_id=body.get("job_id"), payload=body.get("payload") or {})
    record_job_report(req.context(), kind, req.area(upload_area_uuid), record_id, report)
    return req.empty(204)
