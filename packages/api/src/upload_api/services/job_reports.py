"""Reports of jobs through their callbacks: a checksum job moves its checksum run, the validation
harness its validation (rules: `upload_common.domain.checksum_results` and `.validations`)."""

from __future__ import annotations

from upload_api.context import ApiContext
from upload_common.callback_tokens import CallbackKind
from upload_common.domain.checksum_results import apply_checksum_report
from upload_common.domain.jobs import JobReport
from upload_common.domain.validations import apply_validation_report
from upload_common.domain.versions import object_key
from upload_common.models import FileVersion


def record_job_report(
    context: ApiContext, kind: CallbackKind, area_uuid: str, record_id: str, report: JobReport
) -> None:
    """Apply one report; a repeated report changes nothing, an out-of-order one is refused (409)."""

    def url_of(version: FileVersion) -> str:
        return context.store.object_url(object_key(area_uuid, version.name))

    with context.sessions.begin() as session:
        if kind == "checksum":
            apply_checksum_report(session, area_uuid, record_id, report, url_of=url_of)
        else:
            apply_validation_report(session, area_uuid, record_id, report)
