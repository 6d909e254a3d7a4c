"""AWS Batch in moto without Docker: a job queue to submit to, and a stand-in for the container.

moto's Docker-less Batch (`mock_aws(config={"batch": {"use_docker": False}})`) marks every job
SUCCEEDED on submit and never runs anything. `MotoBatch.play` makes a job's record look like what Batch
reports after running the contract's tiny command language (`exit N [message]`, `sleep N`), and
`MotoBatch.advance` finishes a terminated job the way Batch's scheduler would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moto.batch.models import batch_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from upload_common import boto_clients

BATCH_CONFIG: Any = {"batch": {"use_docker": False}}
REGION = "us-east-1"
JOB_QUEUE = "upload-test-queue"


class MotoBatch:
    """A job queue and a job role in the current moto mock; call inside `mock_aws(config=BATCH_CONFIG)`."""

    def __init__(self) -> None:
        iam = boto_clients.client("iam", region_name=REGION)
        self.role_arn = iam.create_role(RoleName="upload-test-batch", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        self.client = boto_clients.client("batch", region_name=REGION)
        environment = self.client.create_compute_environment(
            computeEnvironmentName="upload-test-ce",
            type="UNMANAGED",
            state="ENABLED",
            serviceRole=self.role_arn,
        )
        self.client.create_job_queue(
            jobQueueName=JOB_QUEUE,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}
            ],
        )

    def job(self, job_id: str) -> Any:
        """moto's record of one job."""
        return batch_backends[DEFAULT_ACCOUNT_ID][REGION]._jobs[job_id]

    def play(self, job_id: str, command: Sequence[str]) -> None:
        """Make the job's record show the outcome of `command`, as if Batch had run it."""
        job = self.job(job_id)
        job.job_stopped = False
        job.job_stopped_reason = None
        job.status = "RUNNING"
        if command[0] == "exit":
            code = int(command[1])
            job.exit_code = code
            if code:
                job.job_stopped_reason = (
                    command[2] if len(command) > 2 else "Essential container in task exited"
                )
            job._mark_stopped(success=code == 0)

    def fail(self, job_id: str, reason: str) -> None:
        """End the job FAILED with Batch's `statusReason`."""
        job = self.job(job_id)
        job.job_stopped = False
        job.job_stopped_reason = reason
        job._mark_stopped(success=False)

    def advance(self, job_id: str) -> None:
        """A job that TerminateJob asked to stop ends FAILED with the given reason, as Batch does."""
        job = self.job(job_id)
        if job.stop and job.status not in ("SUCCEEDED", "FAILED"):
            job.job_stopped = False
            job._mark_stopped(success=False)
