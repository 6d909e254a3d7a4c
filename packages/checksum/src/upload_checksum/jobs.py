"""Large files are checksummed by a job (AWS Batch; or the local runner): submitting one, and the job's
own entry point (`upload-checksum run <object url>`), which reports through the authenticated callback."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import update

from upload_common.callback_tokens import job_token
from upload_common.jobs import JobSpec
from upload_common.jobs.environment import store_access_environment
from upload_common.models import ChecksumRun
from upload_common.service_context import ServiceContext
from upload_common.storage import ObjectInfo

logger = logging.getLogger(__name__)

JOB_TIMEOUT_SECONDS = 24 * 3600


def submit_checksum_job(
    context: ServiceContext, run_id: uuid.UUID, area_uuid: str, key: str, head: ObjectInfo
) -> str:
    """Submit the job for a SCHEDULED run (already committed, so a fast callback finds it)."""
    if context.job_runner is None:
        raise RuntimeError("no job runner configured")
    settings = context.settings
    environment = {
        "UPLOAD_CHECKSUM_ID": str(run_id),
        "UPLOAD_EXPECTED_ETAG": head.etag,
        "UPLOAD_CALLBACK_URL": f"{callback_base(context)}/v1/area/{area_uuid}/update_checksum/{run_id}",
        "UPLOAD_CALLBACK_TOKEN": job_token(context.secret_key, "checksum", str(run_id)),
    }
    environment.update(store_access_environment(settings))
    spec = JobSpec(
        name=f"checksum-{run_id}",
        image=settings.checksum_job_image,
        command=["run", context.store.object_url(key)],
        environment=environment,
        vcpus=2,
        memory_mib=4096,
        timeout_seconds=JOB_TIMEOUT_SECONDS,
    )
    job_id = context.job_runner.submit(spec)
    with context.sessions.begin() as session:
        session.execute(update(ChecksumRun).where(ChecksumRun.id == run_id).values(job_id=job_id))
    logger.info("%s: %d bytes: checksum job %s submitted", key, head.size, job_id)
    return job_id


def callback_base(context: ServiceContext) -> str:
    """Where jobs call the API back: UPLOAD_PUBLIC_URL, or the local API's own address."""
    settings = context.settings
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
