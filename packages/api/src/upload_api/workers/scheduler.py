"""The validation scheduler: one job per validation, even when its message comes twice.

The validation row is locked while its job is submitted, so a concurrent duplicate waits and then
finds it SCHEDULED. The image is checked against the allow-list again and pinned to its digest
(recorded on the validation) before the job is submitted. The job receives the validation id, its
callback URL and its own token; the caller's environment, checked again, travels in one variable that
only the harness reads (`UPLOAD_VALIDATOR_ENVIRONMENT`) and reaches the validator alone. With
`UPLOAD_STAGING_ROLE_ARN` the job gets no store credentials, only the URL where it asks for
credentials that read its own files.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.orm import Session

from upload_api.context import ApiContext
from upload_common import messages
from upload_common.domain import validations
from upload_common.domain.images import allowed_validator_images, check_validator_image
from upload_common.domain.jobs import callback_environment, staging_credentials_url
from upload_common.domain.validator_environment import pack_environment
from upload_common.domain.versions import object_key
from upload_common.errors import InvalidInputError, JobRefusedError, JobRunnerError
from upload_common.jobs import JobRunner, JobSpec
from upload_common.jobs.environment import store_access_environment
from upload_common.jobs.factory import make_job_runner
from upload_common.settings import Settings

logger = logging.getLogger(__name__)

JOB_GRACE_SECONDS = 600  # staging and reporting, on top of the validator's own time limit


def validation_job_runner(settings: Settings) -> JobRunner:
    """The job runner for validators. Locally the harness must reach the API (network on), and the
    untrusted validator must not read the service's secrets or database (masked in the sandbox).
    On AWS Batch an unset allow-list (`UPLOAD_VALIDATOR_IMAGES`) stops start-up here."""
    allowed_validator_images(settings)
    var = settings.var_dir
    hidden = [var / name for name in ("api_key", "secret_key", "ingest_secret", "jobs")]
    hidden += list(var.glob("upload.db*"))
    store = settings.storage_url.removeprefix("file://")
    readable = [Path(store)] if settings.storage_url.startswith("file://") else []
    return make_job_runner(settings, network=True, hidden=hidden, readable=readable)


def handle_scheduling_message(context: ApiContext, body: str) -> None:
    """Per-record function of the validation queue."""
    schedule(context, str(messages.parse(body, messages.VALIDATION_SCHEDULING)["validation_id"]))


def schedule(context: ApiContext, validation_id: str) -> str | None:
    """Submit the validation's job unless it has one; returns the job id it submitted, if any.

    Each submission counts as an attempt. A refused job fails the validation at once; any other
    submission error is raised once the count is committed, so that the message comes again, until
    `validation_scheduling_max_attempts` is used up and the validation is FAILED.
    """
    if context.job_runner is None:
        raise RuntimeError("the validation scheduler needs a job runner")
    with context.sessions.begin() as session:
        waiting = validations.validation_to_schedule(session, validation_id)
        if waiting is None:
            return None  # unknown, or already scheduled by an earlier delivery
        attempt = validations.count_scheduling_attempt(waiting.validation)
        image, files = waiting.validation.image, len(waiting.names)
        try:
            job_id, digest = _submit(context, context.job_runner, waiting)
        except JobRunnerError as exc:
            retry = _submission_failed(context, session, waiting, exc)
            if retry is None:
                return None  # FAILED, and ingest told: the message is done with
        else:
            retry = None
            validations.mark_scheduled(waiting.validation, job_id, digest)
    if retry is not None:  # raised only now: the attempt's count is committed
        logger.warning("validation %s: submission %d failed; retried: %s", validation_id, attempt, retry)
        raise retry
    logger.info("validation %s: job %s submitted (%s, %d files)", validation_id, job_id, image, files)
    return job_id


def _submit(context: ApiContext, runner: JobRunner, waiting: validations.ToSchedule) -> tuple[str, str]:
    """Submit the job of an image the allow-list still admits (it may have changed since the request),
    pinned to the digest the runner resolved; returns the job id and that digest."""
    try:
        check_validator_image(waiting.validation.image, allowed_validator_images(context.settings))
    except InvalidInputError as exc:
        raise JobRefusedError(f"the image is no longer allowed: {exc}") from None
    resolved = runner.resolve_image(waiting.validation.image)
    spec = dataclasses.replace(_job_spec(context, waiting), image=resolved.reference)
    return runner.submit(spec), resolved.digest


def _submission_failed(
    context: ApiContext, session: Session, waiting: validations.ToSchedule, error: JobRunnerError
) -> JobRunnerError | None:
    """The error to raise for a retry, or None when the validation is now FAILED."""
    if validations.scheduling_failed(
        session,
        waiting,
        str(error),
        retryable=not isinstance(error, JobRefusedError),
        max_attempts=context.settings.validation_scheduling_max_attempts,
    ):
        return error
    logger.error("validation %s: FAILED, its job could not be submitted: %s", waiting.validation.id, error)
    return None


def _job_spec(context: ApiContext, waiting: validations.ToSchedule) -> JobSpec:
    settings = context.settings
    validation, area_uuid = waiting.validation, waiting.area_uuid
    timeout = int(settings.validator_timeout_seconds) + JOB_GRACE_SECONDS
    try:
        # Checked again: it was recorded under the rules of its day. It travels in one variable
        # that only the harness reads, so it reaches the validator and never the harness itself.
        environment = pack_environment(validation.environment or {})
    except InvalidInputError as exc:
        raise JobRefusedError(f"its environment is no longer allowed: {exc}") from None
    environment.update(
        callback_environment(
            settings,
            context.secret_key,
            "validation",
            area_uuid,
            str(validation.id),
            job_timeout_seconds=timeout,
        ),
        UPLOAD_VALIDATION_ID=str(validation.id),
        UPLOAD_VALIDATOR_TIMEOUT_SECONDS=str(settings.validator_timeout_seconds),
    )
    if settings.validator_user:  # else the image's own (the validator image says nobody)
        environment["UPLOAD_VALIDATOR_USER"] = settings.validator_user
    if settings.staging_role_arn:
        # The harness asks the API for credentials that read only this validation's files, and gets
        # no credentials of the service's.
        environment["UPLOAD_STAGING_CREDENTIALS_URL"] = staging_credentials_url(
            settings, area_uuid, str(validation.id)
        )
    environment.update(store_access_environment(settings, credentials=not settings.staging_role_arn))
    store_url = context.store.url.rstrip("/")
    # Each name percent-encoded once: the harness decodes it exactly once.
    urls = [f"{store_url}/{quote(object_key(area_uuid, name), safe='/')}" for name in waiting.names]
    return JobSpec(
        name=f"validation-{validation.id}",
        image=validation.image,
        command=urls,
        environment=environment,
        vcpus=1,
        memory_mib=4096,
        timeout_seconds=timeout,
    )
