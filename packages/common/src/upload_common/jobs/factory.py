"""Build the job runner that settings name (`UPLOAD_JOB_RUNNER`: `local` or `aws-batch`)."""

from __future__ import annotations

import shlex
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
) -> JobRunner:
    """The runner for `settings.job_runner`.

    `image_commands` (image name -> command prefix) are the local runner's defaults; `UPLOAD_VALIDATORS`
    (image name -> command string) is merged over them. `network` and `hidden` go to the local runner's
    sandbox (a job that calls back to the API needs the network).
    """
    builders: dict[str, Callable[[], JobRunner]] = {
        "local": lambda: _local(settings, image_commands or {}, network=network, hidden=hidden),
        "aws-batch": lambda: _batch(settings),
    }
    builder = builders.get(settings.job_runner)
    if builder is None:  # Settings' Literal type refuses other values; this guards hand-built settings
        raise ConfigurationError(
            f"UPLOAD_JOB_RUNNER: {settings.job_runner!r} is not a job runner; valid: {', '.join(builders)}"
        )
    return builder()


def _local(
    settings: Settings, defaults: Mapping[str, Sequence[str]], *, network: bool, hidden: Sequence[Path]
) -> LocalJobRunner:
    commands = {image: list(prefix) for image, prefix in defaults.items()}
    for image, command in settings.validators.items():
        try:
            prefix = shlex.split(command)
        except ValueError as exc:
            raise ConfigurationError(
                f"UPLOAD_VALIDATORS: command of {image!r} cannot be parsed: {exc}"
            ) from None
        if not prefix:
            raise ConfigurationError(f"UPLOAD_VALIDATORS: command of {image!r} is empty")
        commands[image] = prefix
    return LocalJobRunner(settings.var_dir / "jobs", commands, network=network, hidden=hidden)


def _batch(settings: Settings) -> BatchJobRunner:
    from upload_common import aws  # noqa: PLC0415 - boto3 is imported only when Batch is used

    if not settings.batch_job_queue:
        raise ConfigurationError("UPLOAD_BATCH_JOB_QUEUE must be set when UPLOAD_JOB_RUNNER=aws-batch")
    return BatchJobRunner(
        aws.client("batch", settings),
        settings.batch_job_queue,
        settings.batch_job_role_arn,
        settings.batch_name_prefix,
    )
