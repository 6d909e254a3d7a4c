"""Validations: schedule one for files of an area, read their state, record the harness's reports
(rules: `upload_common.domain.validations`)."""

from __future__ import annotations

from typing import Any

from upload_api.context import ApiContext
from upload_api.names import check_filename
from upload_api.services.files import head_file
from upload_common import messages
from upload_common.credentials import UploadCredentials
from upload_common.domain import validations
from upload_common.domain.areas import existing_area, writable_area
from upload_common.domain.images import allowed_validator_images
from upload_common.domain.validator_environment import check_environment
from upload_common.domain.versions import current_version, record_version
from upload_common.errors import CredentialsNotOfferedError, FileNotFoundInAreaError, InvalidInputError
from upload_common.statuses import FileOrigin


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
    environment = check_environment(environment or {})
    if len(set(names)) != len(names):
        raise InvalidInputError("a file is named more than once")
    for name in names:
        check_filename(name)
    with context.sessions.begin() as session:
        area = writable_area(session, area_uuid)
        # The version now in the store (recorded here if its upload event was not handled yet).
        versions = [
            record_version(
                session, area.id, name, head_file(context, area_uuid, name), origin=FileOrigin.STORE
            )
            for name in names
        ]
        validation = validations.create_validation(
            session,
            area,
            versions,
            image=image,
            environment=environment,
            original_validation_id=original_validation_id,
            max_bytes=context.settings.validation_max_bytes,
            allowed_images=allowed_validator_images(context.settings),
        )
        validation_id = str(validation.id)
    # After the commit: the embedded queue shares the database (one writer on SQLite). If this send
    # fails, the sweep re-queues validations left SCHEDULING_QUEUED.
    context.queue("validation").send(messages.validation_scheduling(validation_id))
    return validation_id


def latest_validation(context: ApiContext, area_uuid: str, name: str) -> dict[str, Any]:
    """`validation_status` and `validation_results` (stdout) of the newest validation of the file, and
    the digest of the image its job ran (`image_digest`, null until the job is submitted)."""
    check_filename(name)
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        if current_version(session, area.id, name) is None:
            raise FileNotFoundInAreaError(f"no file {name!r} in upload area {area_uuid}")
        validation = validations.latest_validation(session, area.id, name)
        if validation is None:
            return {
                "validation_status": "UNSCHEDULED",
                "validation_results": "N/A",
                "validation_id": None,
                "exit_code": None,
                "image_digest": None,
            }
        results = validation.results or {}
        stdout = results.get("stdout")
        exit_code = results.get("exit_code")
        return {
            "validation_status": validation.status.value,
            "validation_results": stdout if isinstance(stdout, str) else "N/A",
            "validation_id": str(validation.id),
            "exit_code": exit_code if isinstance(exit_code, int) else None,
            "image_digest": validation.image_digest,  # what the job runner resolved, once scheduled
        }


def area_validation_counts(context: ApiContext, area_uuid: str) -> dict[str, int]:
    """Validations of the area by status; SCHEDULED, VALIDATING and VALIDATED always present."""
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        return validations.validation_counts(session, area.id)


def issue_staging_credentials(context: ApiContext, area_uuid: str, validation_id: str) -> UploadCredentials:
    """Credentials that read only the validation's objects, for its harness while it may be staging
    (rules: `validations.staging_keys`); refused where jobs stage with credentials of their own."""
    with context.sessions() as session:
        keys = validations.staging_keys(session, area_uuid, validation_id)
    if context.staging_issuer is None:
        raise CredentialsNotOfferedError(
            "this deployment issues no staging credentials (no UPLOAD_STAGING_ROLE_ARN): "
            "validation jobs stage with their own"
        )
    return context.staging_issuer.issue(area_uuid, validation_id, keys)
