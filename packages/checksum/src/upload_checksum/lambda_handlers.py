"""AWS Lambda entry points of the checksum worker (wired by terraform/modules/workers)."""

from __future__ import annotations

from functools import cache
from typing import Any

from upload_checksum.reaper import reap
from upload_checksum.reconcile import reconcile
from upload_checksum.worker import handle_record
from upload_common.consumers import sqs_batch_response
from upload_common.jobs.factory import make_job_runner
from upload_common.service_context import ServiceContext, build_service_context
from upload_common.settings import Settings, load_settings


@cache
def _context() -> ServiceContext:
    return build_service_context(load_settings(Settings))


def _context_with_jobs() -> ServiceContext:
    """The context with its job runner, for the functions that submit or watch jobs. Reconcile has none:
    Terraform gives its function no job queue (UPLOAD_BATCH_JOB_QUEUE), and it needs none."""
    context = _context()
    if context.job_runner is None:
        # Files above UPLOAD_CHECKSUM_INLINE_MAX_BYTES go to AWS Batch: a Lambda has 15 minutes at most.
        context.job_runner = make_job_runner(context.settings)
    return context


def handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    """SQS batch of S3 events / file_uploaded messages, with partial batch failure."""
    context = _context_with_jobs()
    limit = context.settings.checksum_inline_max_bytes
    return sqs_batch_response(event, lambda body: handle_record(context, body, inline_max_bytes=limit))


def reaper_handler(event: dict[str, Any], lambda_context: Any) -> dict[str, int]:
    """Scheduled: re-queue or fail checksum runs that stalled."""
    report = reap(_context_with_jobs())
    return {"requeued": report.requeued, "failed": report.failed}


def reconcile_handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    """Scheduled: queue the stored versions whose events were lost. Invoked by hand with
    `{"verify_sample": N}` (and optionally `"area"`, `"dry_run"`) it also re-verifies a sample."""
    context = _context()
    report = reconcile(
        context,
        area_uuid=event.get("area"),
        dry_run=bool(event.get("dry_run", False)),
        verify_sample=float(event.get("verify_sample", 0)),
        # A Lambda has 15 minutes: larger files are left to `upload-checksum reconcile` on a host.
        verify_max_bytes=context.settings.checksum_inline_max_bytes,
    )
    return report.as_dict()
