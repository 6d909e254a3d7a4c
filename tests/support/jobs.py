"""What a local job ran with. The runner keeps a job's environment in no file (it holds secrets), so a
test's stand-in command writes it itself: `env -0 > environment` in its work directory."""

from __future__ import annotations

from support.waiting import wait_until
from upload_common.jobs.jobdir import JobDir
from upload_common.jobs.local import LocalJobRunner

DUMP_ENVIRONMENT = "env -0 > environment"


def job_environment(runner: LocalJobRunner, job_id: str) -> dict[str, str]:
    """The environment the job's command got, once the job has ended."""
    wait_until(lambda: runner.describe(job_id).state.final, what=f"local job {job_id} to end")
    dumped = (JobDir(runner.state_dir / job_id).work / "environment").read_bytes().decode()
    return dict(item.split("=", 1) for item in dumped.split("\0") if item)
