"""Build the job runner that settings name (`UPLOAD_JOB_RUNNER`: `local` or `aws-batch`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from upload_common.errors import ConfigurationError
from upload_common.jobs.base import JobRunner
from upload_common.jobs.batch import BatchJobRunner
from upload_common.jobs.local import LocalJobRunner
from upload_common.settings import Settings


def make_job_runner(
    settings: Settings,
    image_commands: Mapping[str, Sequence[str]] | None = None,
    *,
    network: bool = False,
    hidden: Sequence[Path] = (),
    readable: Sequence[Path] = (),
) -> JobRunner:
    """The runner for `settings.job_runner`.

    `image_commands` (image name -> command prefix) tell the local runner what to run for each image
    (default: `upload_common.validators.local_image_commands`, i.e. the built-in validators and
    `UPLOAD_VALIDATORS` under the harness, and the checksum job). `network` and `hidden` go to the
    local runner's sandbox (a job that calls back to the API needs the network).
    """
    builders: dict[str, Callable[[], JobRunner]] = {
        "local": lambda: _local(settings, image_commands, network=network, hidden=hidden, readable=readable),
        "aws-batch": lambda: _batch(settings),
    }
    builder = builders.get(settings.job_runner)
    if builder is None:  # Settings' Literal type refuses other values; this guards hand-built settings
        raise ConfigurationError(
            f"UPLOAD_JOB_RUNNER: {settings.job_runner!r} is not a job runner; valid: {', '.join(builders)}"
        )
    return builder()


def _local(
    settings: Settings,
    image_commands: Mapping[str, Sequence[str]] | None,
    *,
    network: bool,
    hidden: Sequence[Path],
    readable: Sequence[Path],
) -> LocalJobRunner:
    from upload_common.validators import local_image_commands  # noqa: PLC0415 - local runner only

    commands = {
        image: list(prefix) for image, prefix in (image_commands or local_image_commands(settings)).items()
    }
    return LocalJobRunner(
        settings.var_dir / "jobs", commands, network=network, hidden=hidden, readable=readable
    )


def _batch(settings: Settings) -> BatchJobRunner:
    from upload_common import boto_clients  # noqa: PLC0415 - boto3 is imported only when Batch is used

    if not settings.batch_job_queue:
        raise ConfigurationError("UPLOAD_BATCH_JOB_QUEUE must be set when UPLOAD_JOB_RUNNER=aws-batch")
    return BatchJobRunner(
        boto_clients.client("batch", settings),
        settings.batch_job_queue,
        settings.batch_job_role_arn,
        settings.batch_name_prefix,
    )
