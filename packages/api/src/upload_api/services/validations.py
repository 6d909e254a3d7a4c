"""Validations: schedule one for files of an area, read their state, record the harness's reports."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from upload_api.context import ApiContext
from upload_api.names import check_filename
from upload_api.services.areas import live_area, writable_area
from upload_api.services.files import current_version, head_file
from upload_api.services.reported_status import reported_status
from upload_common import messages
from upload_common.domain.outbox import notify_file_validated
from upload_common.domain.state_machines import transition_validation
from upload_common.errors import (
    FileNotFoundInAreaError,
    InvalidInputError,
    NotFoundError,
)
from upload_common.fileinfo import new_file_version
from upload_common.models import FileVersion, UploadArea, Validation, ValidationFile
from upload_common.statuses import FileOrigin, ValidationStatus

ALWAYS_COUNTED = (ValidationStatus.SCHEDULED, ValidationStatus.VALIDATING, ValidationStatus.VALIDATED)
REPORTABLE = (ValidationStatus.VALIDATING, ValidationStatus.VALIDATED, ValidationStatus.FAILED)
RESERVED_ENVIRONMENT = ("UPLOAD_", "AWS_")  # the service's own variables: a caller cannot set them


def schedule_validation(
    context: ApiContext,
    area_uuid: str,
    names: list[str],
    *,
    image: str,
    environment: dict[str, str] | None = None,
    original_validation_id: str | None = None,
) -> str:
    """Record a validation of the files' current versions (in order) and queue it for the scheduler."""
    environment = dict(environment or {})
    reserved = sorted(name for name in environment if name.upper().startswith(RESERVED_ENVIRONMENT))
    if reserved:
        raise InvalidInputError(f"environment variables reserved for the service: {', '.join(reserved)}")
    if len(set(names)) != len(names):
        raise InvalidInputError("a file is named more than once")
    for name in names:
        check_filename(name)
    with context.sessions.begin() as session:
        area = writable_area(session, area_uuid)
        versions = [_version_to_validate(context, session, area, name) for name in names]
        total = sum(version.size for version in versions)
        if total >= context.settings.validation_max_bytes:
            raise InvalidInputError(
                f"the files add up to {total} bytes; "
                f"validation takes less than {context.settings.validation_max_bytes}"
            )
        validation = Validation(
            id=uuid.uuid4(),
            area_id=area.id,
            status=ValidationStatus.SCHEDULING_QUEUED,
            image=image,
            environment=environment,
            original_validation_id=original_validation_id,
        )
        session.add(validation)
        session.flush()
        for position, version in enumerate(versions):
            session.add(ValidationFile(validation_id=validation.id, file_id=version.id, position=position))
        validation_id = str(validation.id)
    # After the commit: the embedded queue shares the database (one writer on SQLite). If this send
    # fails, the sweep re-queues validations left SCHEDULING_QUEUED.
    context.queue("validation").send(messages.validation_scheduling(validation_id))
    return validation_id


def latest_validation(context: ApiContext, area_uuid: str, name: str) -> dict[str, Any]:
    """`validation_status` and `validation_results` (stdout) of the newest validation of the file."""
    check_filename(name)
    with context.sessions() as session:
        area = live_area(session, area_uuid)
        if current_version(session, area, name) is None:
            raise FileNotFoundInAreaError(f"no file {name!r} in upload area {area_uuid}")
        validation = session.scalars(
            select(Validation)
            .join(ValidationFile, ValidationFile.validation_id == Validation.id)
            .join(FileVersion, ValidationFile.file_id == FileVersion.id)
            .where(FileVersion.area_id == area.id, FileVersion.name == name)
            .order_by(Validation.created_at.desc(), Validation.id.desc())
            .limit(1)
        ).first()
        if validation is None:
            return {
                "validation_status": "UNSCHEDULED",
                "validation_results": "N/A",
                "validation_id": None,
                "exit_code": None,
            }
        results = validation.results or {}
        stdout = results.get("stdout")
        return {
            "validation_status": validation.status.value,
            "validation_results": stdout if isinstance(stdout, str) else "N/A",
            "validation_id": str(validation.id),
            "exit_code": results.get("exit_code") if isinstance(results.get("exit_code"), int) else None,
        }


def area_validation_counts(context: ApiContext, area_uuid: str) -> dict[str, int]:
    """Validations of the area by status; SCHEDULED, VALIDATING and VALIDATED always present."""
    with context.sessions() as session:
        area = live_area(session, area_uuid)
        rows = session.execute(
            select(Validation.status, func.count())
            .where(Validation.area_id == area.id)
            .group_by(Validation.status)
        ).all()
    counts = {status.value: 0 for status in ALWAYS_COUNTED}
    counts.update({ValidationStatus(status).value: count for status, count in rows})
    return counts


def record_validation_report(
    context: ApiContext,
    area_uuid: str,
    record_id: str,
    *,
    status: str,
    job_id: str | None,
    payload: dict[str, Any],
) -> None:
    """Apply one report of the harness; repeated reports change nothing, out-of-order ones are 409."""
    new_status = reported_status(status, ValidationStatus, REPORTABLE)
    with context.sessions.begin() as session:
        row = session.execute(
            select(Validation, UploadArea)
            .join(UploadArea, Validation.area_id == UploadArea.id)
            .where(Validation.id == uuid.UUID(record_id), UploadArea.uuid == area_uuid)
            .with_for_update(of=Validation)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no validation {record_id} in upload area {area_uuid}")
        validation = row[0]
        if job_id and not validation.job_id:
            validation.job_id = job_id
        reason = payload.get("exception") if isinstance(payload.get("exception"), str) else None
        if not transition_validation(validation, new_status, reason=reason):
            return
        if new_status is ValidationStatus.VALIDATING:
            return
        finish_validation(session, validation, area_uuid, payload)


def finish_validation(
    session: Session, validation: Validation, area_uuid: str, payload: dict[str, Any]
) -> None:
    """Keep the results and notify `file_validated` once per file, as the seed did (also when FAILED,
    so that ingest is never left waiting)."""
    files = session.scalars(
        select(FileVersion)
        .join(ValidationFile, ValidationFile.file_id == FileVersion.id)
        .where(ValidationFile.validation_id == validation.id)
        .order_by(ValidationFile.position)
    ).all()
    results = dict(payload)
    # Ingest correlates retries with the first attempt's id (the seed's VALIDATION_ID semantics).
    results["validation_id"] = validation.original_validation_id or str(validation.id)
    results.setdefault("upload_area_id", area_uuid)
    results.setdefault("names", [file.name for file in files])
    if validation.status is ValidationStatus.FAILED:
        results.setdefault("status", "failed")
        results.setdefault("exception", validation.reason)
    validation.results = results
    for file in files:
        notify_file_validated(session, file_id=file.id, validation_id=validation.id, results=results)


def _version_to_validate(context: ApiContext, session: Session, area: UploadArea, name: str) -> FileVersion:
    """The file's version now in the store (recorded here if its upload event was not handled yet)."""
    info = head_file(context, area.uuid, name)
    version = session.scalars(
        select(FileVersion).where(
            FileVersion.area_id == area.id, FileVersion.name == name, FileVersion.etag == info.etag
        )
    ).one_or_none()
    if version is None:
        version = new_file_version(area.id, name, info, origin=FileOrigin.STORE)
        session.add(version)
        session.flush()
    return version
