"""AWS Batch behind the `JobRunner` interface.

An image is pinned before it runs (`resolve_image`): one that carries a digest is used as it is; one
in an Amazon ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag]`) is looked up
with ECR DescribeImages and becomes `<registry>/<repository>@sha256:…`; any other is refused, since
what its tag names could change between the lookup and the pull.

One job definition per image reference, named `<prefix>-<sha1(image)[:16]>`: looked up among the ACTIVE
definitions, registered only when missing, and remembered for the life of the runner. Each job sets
its own command, environment, resources and timeout. Throttling is retried with backoff. Every
definition and job carries `RETRY_STRATEGY`: Batch itself retries a job lost with its host, never an
application failure; a job that exhausted its attempts is `interrupted` for the reapers to resubmit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from upload_common.domain.images import parse_image_reference
from upload_common.errors import InvalidImageReferenceError, JobNotFoundError, JobRefusedError, JobRunnerError
from upload_common.jobs.base import JobRunner, JobSpec, JobState, JobStatus, ResolvedImage

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import (
        ContainerOverridesTypeDef,
        ContainerPropertiesTypeDef,
        RetryStrategyTypeDef,
    )
    from mypy_boto3_ecr import ECRClient

T = TypeVar("T")

THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
# Batch's answer to a request it calls invalid (unknown queue or definition, bad parameters): the same
# request fails again. ServerException, throttling and connection errors may pass.
REFUSED_CODES = frozenset({"ClientException"})
# ECR's answer for an image or repository that is not there (or a request it calls invalid).
ECR_REFUSED_CODES = frozenset(
    {"RepositoryNotFoundException", "ImageNotFoundException", "InvalidParameterException"}
)
ECR_REGISTRY = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
MIN_ATTEMPT_SECONDS = 60  # Batch refuses a shorter attemptDurationSeconds
_STATES = {
    "SUBMITTED": JobState.SUBMITTED,
    "PENDING": JobState.SUBMITTED,
    "RUNNABLE": JobState.SUBMITTED,
    "STARTING": JobState.SUBMITTED,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDED": JobState.SUCCEEDED,
    "FAILED": JobState.FAILED,
}
_TIMEOUT_REASON = re.compile(
    r"duration exceeded timeout|exceeded the configured attemptDurationSeconds", re.I
)
_NAME_LIMIT = 128
# Batch's statusReason for a job whose instance went away (Spot interruption, instance termination).
HOST_TERMINATED_REASON = "Host EC2"
# Every job gets up to 3 attempts, but Batch retries only a job lost with its host; any other failure
# (the job's own exit code, a timeout, a bad image) ends it at once: running it again cannot help.
RETRY_STRATEGY: RetryStrategyTypeDef = {
    "attempts": 3,
    "evaluateOnExit": [
        {"onStatusReason": f"{HOST_TERMINATED_REASON}*", "action": "RETRY"},
        {"onReason": "*", "action": "EXIT"},
    ],
}


class BatchJobRunner(JobRunner):
    """Submits jobs to `job_queue`; every job runs with the role `job_role_arn`. `ecr_client` gives the
    ECR client of a region (default: the service's boto3 client there)."""

    def __init__(
        self,
        client: BatchClient,
        job_queue: str,
        job_role_arn: str | None,
        name_prefix: str,
        *,
        ecr_client: Callable[[str], ECRClient] | None = None,
        max_attempts: int = 6,
        max_wait_seconds: float = 20.0,
    ) -> None:
        self._client = client
        self._ecr_client = ecr_client or _ecr_client
        self._ecr_clients: dict[str, ECRClient] = {}
        self.job_queue = job_queue
        self.job_role_arn = job_role_arn
        self.name_prefix = name_prefix
        self._definitions: dict[str, str] = {}  # image -> job definition ARN
        self._retrying = Retrying(
            retry=retry_if_exception(_throttled),
            stop=stop_after_attempt(max_attempts),
            wait=wait_exponential(multiplier=max_wait_seconds / 2**max_attempts, max=max_wait_seconds),
            reraise=True,
        )

    def resolve_image(self, image: str) -> ResolvedImage:
        try:
            reference = parse_image_reference(image)
        except InvalidImageReferenceError as exc:
            raise JobRefusedError(str(exc)) from None
        if reference.digest:
            return ResolvedImage(image, reference.digest)  # a registry serves only that content for it
        registry = ECR_REGISTRY.fullmatch(reference.registry or "")
        if registry is None:
            raise JobRefusedError(
                f"image {image!r} is not in an Amazon ECR registry and carries no digest, so what it "
                "would run cannot be pinned: give it as name@sha256:<digest>"
            )
        ecr = self._ecr(registry["region"])
        tag = reference.tag or "latest"
        found = self._call(
            "DescribeImages",
            lambda: ecr.describe_images(
                registryId=registry["account"], repositoryName=reference.path, imageIds=[{"imageTag": tag}]
            ),
            service="Amazon ECR",
            refused=ECR_REFUSED_CODES,
        )
        digests = [detail["imageDigest"] for detail in found["imageDetails"] if "imageDigest" in detail]
        if not digests:
            raise JobRefusedError(f"Amazon ECR has no image {image!r}")
        return ResolvedImage(f"{reference.name}@{digests[0]}", digests[0])

    def submit(self, spec: JobSpec) -> str:
        definition = self.job_definition(spec.image)
        overrides: ContainerOverridesTypeDef = {
            "command": list(spec.command),
            "environment": [{"name": name, "value": value} for name, value in spec.environment.items()],
            "resourceRequirements": [
                {"type": "VCPU", "value": str(spec.vcpus)},
                {"type": "MEMORY", "value": str(spec.memory_mib)},
            ],
        }
        response = self._call(
            "SubmitJob",
            lambda: self._client.submit_job(
                jobName=job_name(spec.name),
                jobQueue=self.job_queue,
                jobDefinition=definition,
                containerOverrides=overrides,
                # Also on the job: a definition registered before the strategy existed has none.
                retryStrategy=RETRY_STRATEGY,
                timeout={"attemptDurationSeconds": max(MIN_ATTEMPT_SECONDS, spec.timeout_seconds)},
            ),
        )
        return response["jobId"]

    def describe(self, job_id: str) -> JobStatus:
        jobs = self._call("DescribeJobs", lambda: self._client.describe_jobs(jobs=[job_id]))["jobs"]
        if not jobs:
            raise JobNotFoundError(f"no AWS Batch job {job_id!r}")
        job: Any = jobs[0]
        state = _STATES.get(job["status"])
        if state is None:
            raise JobRunnerError(f"AWS Batch job {job_id} has an unknown status {job['status']!r}")
        container = job.get("container") or {}
        attempts = job.get("attempts") or [{}]
        last = attempts[-1].get("container") or {}  # where Batch reports a retried job's last run
        exit_code = container.get("exitCode", last.get("exitCode"))
        reason = None
        interrupted = False
        if state is JobState.FAILED:
            status_reason = job.get("statusReason")
            reason = _failure_reason(status_reason, container.get("reason") or last.get("reason"), exit_code)
            interrupted = (status_reason or "").startswith(HOST_TERMINATED_REASON)
        return JobStatus(job_id, state, reason, exit_code, interrupted=interrupted)

    def cancel(self, job_id: str, reason: str = "cancelled") -> None:
        if self.describe(job_id).state.final:
            return
        # TerminateJob also stops a job that has started (CancelJob only stops queued ones).
        self._call("TerminateJob", lambda: self._client.terminate_job(jobId=job_id, reason=reason))

    def job_definition(self, image: str) -> str:
        """The ARN of the image's job definition, registered on first use."""
        arn = self._definitions.get(image)
        if arn is None:
            arn = self._find_definition(image) or self._register_definition(image)
            self._definitions[image] = arn
        return arn

    def definition_name(self, image: str) -> str:
        return f"{self.name_prefix}-{hashlib.sha1(image.encode()).hexdigest()[:16]}"  # noqa: S324 - a name, not security

    def _find_definition(self, image: str) -> str | None:
        name = self.definition_name(image)
        found: list[Any] = []
        pages = self._call(
            "DescribeJobDefinitions",
            lambda: list(
                self._client.get_paginator("describe_job_definitions").paginate(
                    jobDefinitionName=name, status="ACTIVE"
                )
            ),
        )
        for page in pages:
            found.extend(d for d in page["jobDefinitions"] if d["containerProperties"].get("image") == image)
        if not found:
            return None
        newest = max(found, key=lambda d: d["revision"])
        return str(newest["jobDefinitionArn"])

    def _register_definition(self, image: str) -> str:
        properties: ContainerPropertiesTypeDef = {
            "image": image,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
        }
        if self.job_role_arn:
            properties["jobRoleArn"] = self.job_role_arn
        response = self._call(
            "RegisterJobDefinition",
            lambda: self._client.register_job_definition(
                jobDefinitionName=self.definition_name(image),
                type="container",
                containerProperties=properties,
                retryStrategy=RETRY_STRATEGY,
                tags={"image": image[:256]},
            ),
        )
        return response["jobDefinitionArn"]

    def _ecr(self, region: str) -> ECRClient:
        if region not in self._ecr_clients:
            self._ecr_clients[region] = self._ecr_client(region)
        return self._ecr_clients[region]

    def _call(
        self,
        operation: str,
        call: Callable[[], T],
        *,
        service: str = "AWS Batch",
        refused: frozenset[str] = REFUSED_CODES,
    ) -> T:
        with _translate(f"{service} {operation}", refused):
            return self._retrying(call)


def job_name(name: str) -> str:
    """A Batch job name: letters, digits, `_` and `-` only, at most 128 characters, never empty."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:_NAME_LIMIT]
    return cleaned if re.match(r"[A-Za-z0-9]", cleaned) else f"job{cleaned}"[:_NAME_LIMIT]


def _failure_reason(status_reason: str | None, container_reason: str | None, exit_code: int | None) -> str:
    parts = [part for part in (status_reason, container_reason) if part]
    if exit_code is not None:
        parts.append(f"exit code {exit_code}")
    reason = "; ".join(parts) or "AWS Batch gave no reason"
    if _TIMEOUT_REASON.search(reason):
        return f"timed out: {reason}"
    return reason


def _ecr_client(region: str) -> ECRClient:
    from upload_common import boto_clients  # noqa: PLC0415 - boto3 only once an image is looked up

    client: ECRClient = boto_clients.client("ecr", region_name=region)
    return client


def _throttled(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in THROTTLING_CODES


@contextmanager
def _translate(operation: str, refused: frozenset[str]) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "?")
        kind = JobRefusedError if code in refused else JobRunnerError
        raise kind(f"{operation}: {code}: {error.get('Message', '')}") from None
    except BotoCoreError as exc:
        raise JobRunnerError(f"{operation}: {exc}") from None
