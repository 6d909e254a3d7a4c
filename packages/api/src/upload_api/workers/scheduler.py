"""The validation scheduler: one job per validation, even when its message comes twice.

The validation row is locked while its job is submitted, so a concurrent duplicate waits and then
finds it SCHEDULED. The job receives the validation id, its callback URL and its own token; the
caller's environment passes through, but never over the service's variables.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select

from upload_api.context import ApiContext
from upload_common import messages
from upload_common.callback_tokens import job_token
from upload_common.domain.state_machines import transition_validation
from upload_common.jobs import JobRunner, JobSpec
from upload_common.jobs.environment import store_access_environment
from upload_common.jobs.factory import make_job_runner
from upload_common.models import FileVersion, UploadArea, Validation, ValidationFile
from upload_common.settings import Settings
from upload_common.statuses import ValidationStatus

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
    """Submit the validation's job unless it has one; returns the job id it submitted, if any."""
    if context.job_runner is None:
        raise RuntimeError("the validation scheduler needs a job runner")
    with context.sessions.begin() as session:
        row = session.execute(
            select(Validation, UploadArea)
            .join(UploadArea, Validation.area_id == UploadArea.id)
            .where(Validation.id == uuid.UUID(validation_id))
            .with_for_update(of=Validation)
        ).one_or_none()
        if row is None or row[0].status is not ValidationStatus.SCHEDULING_QUEUED:
            return None  # unknown, or already scheduled by an earlier delivery
        validation, area = row
        names = session.scalars(
            select(FileVersion.name)
            .join(ValidationFile, ValidationFile.file_id == FileVersion.id)
            .where(ValidationFile.validation_id == validation.id)
            .order_by(ValidationFile.position)
        ).all()
        job_id = context.job_runner.submit(_job_spec(context, validation, area.uuid, list(names)))
        validation.job_id = job_id
        transition_validation(validation, ValidationStatus.SCHEDULED)
    logger.info(
        "validation %s: job %s submitted (%s, %d files)", validation_id, job_id, validation.image, len(names)
    )
    return job_id


def _job_spec(context: ApiContext, validation: Validation, area_uuid: str, names: list[str]) -> JobSpec:
    settings = context.settings
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    environment = dict(validation.environment or {})
    environment.update(
        UPLOAD_VALIDATION_ID=str(validation.id),
        UPLOAD_CALLBACK_URL=f"{base}/v1/area/{area_uuid}/update_validation/{validation.id}",
        UPLOAD_CALLBACK_TOKEN=job_token(context.secret_key, "validation", str(validation.id)),
        UPLOAD_VALIDATOR_TIMEOUT_SECONDS=str(settings.validator_timeout_seconds),
    )
    environment.update(store_access_environment(settings))
    store_url = context.store.url.rstrip("/")
    # Each name percent-encoded once: the harness decodes it exactly once.
    urls = [f"{store_url}/{quote(f'{area_uuid}/{name}', safe='/')}" for name in names]
    return JobSpec(
        name=f"validation-{validation.id}",
        image=validation.image,
        command=urls,
        environment=environment,
        vcpus=1,
        memory_mib=4096,
        timeout_seconds=int(settings.validator_timeout_seconds) + JOB_GRACE_SECONDS,
    )
