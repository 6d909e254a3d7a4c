"""AWS Batch in moto without Docker: a job queue to submit to, a stand-in for the container, and
images in moto's ECR.

moto's Docker-less Batch (`mock_aws(config={"batch": {"use_docker": False}})`) marks every job
SUCCEEDED on submit and never runs anything. `MotoBatch.play` makes a job's record look like what Batch
reports after running the contract's tiny command language (`exit N [message]`, `sleep N`), and
`MotoBatch.advance` finishes a terminated job the way Batch's scheduler would.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from moto.batch.models import batch_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from upload_common import boto_clients

BATCH_CONFIG: Any = {"batch": {"use_docker": False}}
REGION = "us-east-1"
JOB_QUEUE = "upload-test-queue"
ECR_REGISTRY = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"


def ecr_image(repository: str, tag: str) -> tuple[str, str]:
    """An image pushed to moto's ECR under `repository:tag` (the repository created when missing): its
    tagged reference and the digest ECR gives it (each call pushes new content, so a new digest)."""
    ecr = boto_clients.client("ecr", region_name=REGION)
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    pushed = len(ecr.list_images(repositoryName=repository)["imageIds"])
    layer = hashlib.sha256(f"{repository}:{tag}:{pushed}".encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": f"sha256:{'0' * 64}",
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 1,
                "digest": f"sha256:{layer}",
            }
        ],
    }
    image = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)[
        "image"
    ]
    return f"{ECR_REGISTRY}/{repository}:{tag}", image["imageId"]["imageDigest"]


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
