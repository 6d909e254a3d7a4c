"""Validations: recording one, reading the newest and the counts, applying the harness's reports and
finishing (results kept, `file_validated` written once per file, FAILED ones too)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ScalarSelect, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from upload_common.domain.images import check_validator_image
from upload_common.domain.jobs import JobReport, parse_record_id, reported_status
from upload_common.domain.outbox import notify_file_validated
from upload_common.domain.state_machines import transition_validation
from upload_common.domain.validator_environment import check_environment
from upload_common.domain.versions import object_key
from upload_common.errors import ConflictError, InvalidInputError, NotFoundError
from upload_common.models import FileVersion, UploadArea, Validation, ValidationFile
from upload_common.statuses import ValidationStatus

ALWAYS_COUNTED = (ValidationStatus.SCHEDULED, ValidationStatus.VALIDATING, ValidationStatus.VALIDATED)
REPORTABLE = (ValidationStatus.VALIDATING, ValidationStatus.VALIDATED, ValidationStatus.FAILED)
UNFINISHED = (ValidationStatus.SCHEDULING_QUEUED, ValidationStatus.SCHEDULED, ValidationStatus.VALIDATING)
STAGING = (ValidationStatus.SCHEDULED, ValidationStatus.VALIDATING)  # its job may be staging files


def create_validation(
    session: Session,
    area: UploadArea,
    versions: Sequence[FileVersion],
    *,
    image: str,
    environment: Mapping[str, str],
    original_validation_id: str | None,
    max_bytes: int,
    allowed_images: Sequence[str],
) -> Validation:
    """A SCHEDULING_QUEUED validation of these versions, in this order (the validator's argument order),
    of an image that `allowed_images` admits (`upload_common.domain.images`)."""
    check_validator_image(image, allowed_images)
    total = sum(version.size for version in versions)
    if total >= max_bytes:
        raise InvalidInputError(f"the files add up to {total} bytes; validation takes less than {max_bytes}")
    validation = Validation(
        id=uuid.uuid4(),
        area_id=area.id,
        status=ValidationStatus.SCHEDULING_QUEUED,
        image=image,
        environment=check_environment(environment),
        original_validation_id=original_validation_id,
    )
    session.add(validation)
    session.flush()
    for position, version in enumerate(versions):
        session.add(ValidationFile(validation_id=validation.id, file_id=version.id, position=position))
    session.flush()
    return validation


def latest_validation(session: Session, area_id: int, name: str) -> Validation | None:
    """The newest validation that included any version of the file."""
    return session.scalars(
        select(Validation)
        .join(ValidationFile, ValidationFile.validation_id == Validation.id)
        .join(FileVersion, ValidationFile.file_id == FileVersion.id)
        .where(FileVersion.area_id == area_id, FileVersion.name == name)
        .order_by(Validation.created_at.desc(), Validation.id.desc())
        .limit(1)
    ).first()


def latest_validation_id_column() -> ScalarSelect[uuid.UUID]:
    """`latest_validation` as SQL: the id of the newest validation of each selected `FileVersion`'s
    file (any of its versions), a correlated subquery for listing many files in one query."""
    version = aliased(FileVersion)
    return (
        select(Validation.id)
        .join(ValidationFile, ValidationFile.validation_id == Validation.id)
        .join(version, ValidationFile.file_id == version.id)
        .where(version.area_id == FileVersion.area_id, version.name == FileVersion.name)
        .order_by(Validation.created_at.desc(), Validation.id.desc())
        .limit(1)
        .correlate(FileVersion)
        .scalar_subquery()
    )


def of_newest_validation_of_version(version_id: Any, column: Any) -> Any:
    """`column` of the newest validation that included exactly the version `version_id` (a column of an
    outer query: a correlated subquery), NULL when none did. The manifest's verdicts and the seal's
    inventory judge a file's *current* version by it."""
    return (
        select(column)
        .select_from(ValidationFile)
        .join(Validation, Validation.id == ValidationFile.validation_id)
        .where(ValidationFile.file_id == version_id)
        .order_by(Validation.created_at.desc(), Validation.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def validation_failed() -> Any:
    """SQL, 1 when a validation failed (FAILED: it could not run to the end; VALIDATED with an exit
    code other than 0: the validator found the files invalid), else 0 (unfinished, or valid)."""
    exit_code = Validation.results["exit_code"].as_integer()
    return case(
        (Validation.status == ValidationStatus.FAILED, 1),
        (and_(Validation.status == ValidationStatus.VALIDATED, func.coalesce(exit_code, -1) != 0), 1),
        else_=0,
    )


def validation_counts(session: Session, area_id: int) -> dict[str, int]:
    """Validations of the area by status; SCHEDULED, VALIDATING and VALIDATED always present."""
    rows = session.execute(
        select(Validation.status, func.count())
        .where(Validation.area_id == area_id)
        .group_by(Validation.status)
    ).all()
    counts = {status.value: 0 for status in ALWAYS_COUNTED}
    counts.update({ValidationStatus(status).value: count for status, count in rows})
    return counts


def validated_names(session: Session, validation_id: uuid.UUID) -> list[str]:
    """The names of the validation's files, in the order the validator receives them."""
    return list(
        session.scalars(
            select(FileVersion.name)
            .join(ValidationFile, ValidationFile.file_id == FileVersion.id)
            .where(ValidationFile.validation_id == validation_id)
            .order_by(ValidationFile.position)
        )
    )


def staging_keys(session: Session, area_uuid: str, validation_id: str) -> list[str]:
    """The object keys a validation's job may read, in order: only while the job may be staging them
    (SCHEDULED or VALIDATING; else `ConflictError`); another area's or an unknown validation is a
    `NotFoundError`."""
    validation = _find_validation(session, area_uuid, validation_id)
    if validation.status not in STAGING:
        raise ConflictError(
            f"validation {validation_id} is {validation.status.value}: its job no longer stages files"
        )
    return [object_key(area_uuid, name) for name in validated_names(session, validation.id)]


@dataclass(frozen=True)
class ToSchedule:
    """A validation waiting for its job (locked until the caller's transaction ends)."""

    validation: Validation
    area_uuid: str
    names: list[str]


def validation_to_schedule(session: Session, validation_id: str) -> ToSchedule | None:
    """The validation, locked, if it still waits for its job; None when unknown or already scheduled
    (a redelivered message then changes nothing)."""
    row = session.execute(
        select(Validation, UploadArea.uuid)
        .join(UploadArea, Validation.area_id == UploadArea.id)
        .where(Validation.id == uuid.UUID(validation_id))
        .with_for_update(of=Validation)
    ).one_or_none()
    if row is None or row[0].status is not ValidationStatus.SCHEDULING_QUEUED:
        return None
    return ToSchedule(row[0], row[1], validated_names(session, row[0].id))


def mark_scheduled(validation: Validation, job_id: str, image_digest: str) -> None:
    """The job is submitted; `image_digest` is what the job runner resolved the image to (never what
    the job itself says: it is untrusted)."""
    validation.job_id = job_id
    validation.image_digest = image_digest
    transition_validation(validation, ValidationStatus.SCHEDULED)


def count_scheduling_attempt(validation: Validation) -> int:
    """Count one more attempt at scheduling the validation (a submission, or the sweep's re-queue)."""
    validation.scheduling_attempts = (validation.scheduling_attempts or 0) + 1
    return validation.scheduling_attempts


def scheduling_failed(
    session: Session, waiting: ToSchedule, reason: str, *, retryable: bool, max_attempts: int
) -> bool:
    """The job could not be submitted: True when it is to be tried again; otherwise (refused, or out of
    attempts) the validation is FAILED with the reason and ingest is told."""
    attempts = waiting.validation.scheduling_attempts
    if retryable and attempts < max_attempts:
        waiting.validation.reason = f"attempt {attempts}: {reason}"  # for operators while it waits
        return True
    why = f"after {attempts} attempt(s)" if retryable else "it was refused"
    fail_validation(
        session, waiting.validation, waiting.area_uuid, f"the job could not be submitted ({why}): {reason}"
    )
    return False


def requeue_or_fail(session: Session, validation: Validation, area_uuid: str, *, max_attempts: int) -> bool:
    """A validation still waiting for its job long after it was queued (its message was lost or
    dead-lettered): True to queue it again (one more attempt), or FAILED once out of attempts."""
    if validation.scheduling_attempts < max_attempts:
        count_scheduling_attempt(validation)
        return True
    reason = f"the job could not be submitted after {validation.scheduling_attempts} attempt(s)"
    if validation.reason:  # the last submission's error
        reason += f"; last: {validation.reason}"
    fail_validation(session, validation, area_uuid, reason)
    return False


def resubmit_or_fail(
    session: Session, validation: Validation, area_uuid: str, reason: str, *, max_attempts: int
) -> bool:
    """The validation's job was lost (interrupted with its host, or vanished): True when it goes back
    to SCHEDULING_QUEUED for a new job (one more scheduling attempt, counted in the database);
    FAILED with `reason` once out of attempts, and ingest is told."""
    if validation.scheduling_attempts < max_attempts and transition_validation(
        validation, ValidationStatus.SCHEDULING_QUEUED, reason=f"{reason}; submitted again"
    ):
        validation.job_id = None
        validation.started_at = None
        count_scheduling_attempt(validation)
        return True
    fail_validation(session, validation, area_uuid, reason)
    return False


def apply_validation_report(session: Session, area_uuid: str, validation_id: str, report: JobReport) -> None:
    """Apply one report of the harness; repeated reports change nothing, out-of-order ones raise
    `IllegalTransitionError`, one about another area's validation `NotFoundError`."""
    new_status = reported_status(report.status, ValidationStatus, REPORTABLE)
    validation = _find_validation(session, area_uuid, validation_id)
    if report.job_id and not validation.job_id:
        validation.job_id = report.job_id
    exception = report.payload.get("exception")
    moved = transition_validation(
        validation, new_status, reason=exception if isinstance(exception, str) else None
    )
    if moved and new_status is not ValidationStatus.VALIDATING:
        finish_validation(session, validation, area_uuid, report.payload)


def fail_validation(session: Session, validation: Validation, area_uuid: str, reason: str) -> None:
    """End a validation whose job failed or vanished: FAILED with the reason, and ingest is told."""
    if transition_validation(validation, ValidationStatus.FAILED, reason=reason):
        finish_validation(session, validation, area_uuid, {"exception": reason})


def finish_validation(
    session: Session, validation: Validation, area_uuid: str, payload: Mapping[str, Any]
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
    results["image_digest"] = validation.image_digest  # the service's record, never the job's word
    if validation.status is ValidationStatus.FAILED:
        results.setdefault("status", "failed")
        results.setdefault("exception", validation.reason)
    validation.results = results
    for file in files:
        notify_file_validated(session, file_id=file.id, validation_id=validation.id, results=results)
    # A failed validation makes a file invalid (imported here: manifests build on this module).
    from upload_common.domain.manifests import settle_completeness  # noqa: PLC0415

    for name in sorted({file.name for file in files}):
        settle_completeness(session, validation.area_id, name)


def _find_validation(session: Session, area_uuid: str, validation_id: str) -> Validation:
    key = parse_record_id(validation_id, what="validation", area_uuid=area_uuid)
    validation = session.scalars(
        select(Validation)
        .join(UploadArea, Validation.area_id == UploadArea.id)
        .where(Validation.id == key, UploadArea.uuid == area_uuid)
        .with_for_update(of=Validation)
    ).one_or_none()
    if validation is None:
        raise NotFoundError(f"no validation {validation_id} in upload area {area_uuid}")
    return validation
