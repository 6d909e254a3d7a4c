"""Which local command runs for which image on the local job runner (the embedded default).

A validator image maps to a validator command (`UPLOAD_VALIDATORS`, merged over the built-ins that
dcp-upload-batch-validator installs); the local runner runs it under the validation harness, as the
harness is the entry point of a validator image on AWS. The checksum job image maps to the checksum
job's own entry point. Only strings live here, so no package needs to import another to run a job.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from upload_common.errors import ConfigurationError
from upload_common.settings import Settings

BUILTIN_VALIDATORS = {
    "dcp-upload/validator-fastq": "upload-validator-fastq",
    "dcp-upload/validator-gzip": "upload-validator-gzip",
    "dcp-upload/validator-json": "upload-validator-json",
}
HARNESS = "upload-validate"
CHECKSUM_JOB = "upload-checksum"


def validator_commands(settings: Settings) -> dict[str, str]:
    """Image name → validator command, the built-ins overridden by `UPLOAD_VALIDATORS`."""
    return BUILTIN_VALIDATORS | dict(settings.validators)


def local_image_commands(settings: Settings) -> dict[str, list[str]]:
    """Image name → command prefix for the local job runner (the job's command is appended)."""
    commands = {settings.checksum_job_image: [_own_script(CHECKSUM_JOB)]}
    for image, command in validator_commands(settings).items():
        try:
            words = shlex.split(command)
        except ValueError as exc:
            raise ConfigurationError(
                f"UPLOAD_VALIDATORS: command of {image!r} cannot be parsed: {exc}"
            ) from None
        if not words:
            raise ConfigurationError(f"UPLOAD_VALIDATORS: command of {image!r} is empty")
        commands[image] = [_own_script(HARNESS), "--validator", shlex.join(words)]
    return commands


def _own_script(name: str) -> str:
    """The service's console script from this very environment, so a job runs the same code as the
    service even when that environment's bin directory is not on PATH."""
    sibling = Path(sys.executable).parent / name
    return str(sibling) if sibling.is_file() else name
