"""Large files are checksummed by a job (AWS Batch; or the local runner): submitting one. The job's own
entry point (`upload-checksum run <object url>`, `run_job`) reports through the authenticated callback."""

from __future__ import annotations

import logging
import uuid

from upload_common.domain.checksum_runs import attach_job
from upload_common.domain.jobs import callback_environment
from upload_common.jobs import JobSpec
from upload_common.jobs.environment import store_access_environment
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
        **callback_environment(
            settings,
            context.secret_key,
            "checksum",
            area_uuid,
            str(run_id),
            job_timeout_seconds=JOB_TIMEOUT_SECONDS,
        ),
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
        attach_job(session, run_id, job_id)
    logger.info("%s: %d bytes: checksum job %s submitted", key, head.size, job_id)
    return job_id
