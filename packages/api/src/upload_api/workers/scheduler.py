"""The validation scheduler: one job per validation, even when its message comes twice.

The validation row is locked while its job is submitted, so a concurrent duplicate waits and then
finds it SCHEDULED. The job receives the validation id, its callback URL and its own token; the
caller's environment passes through, but never over the service's variables.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.orm import Session

from upload_api.context import ApiContext
from upload_common import messages
from upload_common.domain import validations
from upload_common.domain.jobs import callback_environment
from upload_common.domain.versions import object_key
from upload_common.errors import JobRefusedError, JobRunnerError
from upload_common.jobs import JobRunner, JobSpec
from upload_common.jobs.environment import store_access_environment
from upload_common.jobs.factory import make_job_runner
from upload_common.settings import Settings

logger = logging.getLogger(__name__)

JOB_GRACE_SECONDS = 600  # staging and reporting, on top of the validator's own time limit


def validation_job_runner(settings: Settings) -> JobRunner:
    """The job runner for validators. Locally the harness must reach the API (network on), and the
    untrusted validator must not read the service's secrets or database (masked in the sandbox)."""
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
            job_id = context.job_runner.submit(_job_spec(context, waiting))
        except JobRunnerError as exc:
            retry = _submission_failed(context, session, waiting, exc)
            if retry is None:
                return None  # FAILED, and ingest told: the message is done with
        else:
            retry = None
            validations.mark_scheduled(waiting.validation, job_id)
    if retry is not None:  # raised only now: the attempt's count is committed
        logger.warning("validation %s: submission %d failed; retried: %s", validation_id, attempt, retry)
        raise retry
    logger.info("validation %s: job %s submitted (%s, %d files)", validation_id, job_id, image, files)
    return job_id


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
    environment = dict(validation.environment or {})
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
    environment.update(store_access_environment(settings))
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
