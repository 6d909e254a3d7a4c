"""AWS Batch specifics through moto: one job definition per image, images pinned by ECR, job settings,
throttling, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from support.moto_batch import BATCH_CONFIG, ECR_REGISTRY, JOB_QUEUE, REGION, MotoBatch, ecr_image
from upload_common import boto_clients
from upload_common.errors import JobRefusedError, JobRunnerError
from upload_common.jobs import JobSpec, JobState, ResolvedImage
from upload_common.jobs.batch import BatchJobRunner, job_name

IMAGE = "quay.io/humancellatlas/fastq-validator:2.1"


@pytest.fixture
def batch() -> Iterator[MotoBatch]:
    with mock_aws(config=BATCH_CONFIG):
        yield MotoBatch()


@pytest.fixture
def runner(batch: MotoBatch) -> BatchJobRunner:
    return BatchJobRunner(batch.client, JOB_QUEUE, batch.role_arn, "upload-test")


def test_one_job_definition_per_image_registered_once(batch: MotoBatch, runner: BatchJobRunner) -> None:
    runner.submit(JobSpec("a", IMAGE, ["x"]))
    runner.submit(JobSpec("b", IMAGE, ["y"]))
    # Another process (a fresh runner) finds the ACTIVE definition instead of registering a new one.
    BatchJobRunner(batch.client, JOB_QUEUE, batch.role_arn, "upload-test").submit(JobSpec("c", IMAGE, ["z"]))
    runner.submit(JobSpec("d", "quay.io/humancellatlas/other:1", []))

    definitions = batch.client.describe_job_definitions(status="ACTIVE")["jobDefinitions"]

    by_name = {(d["jobDefinitionName"], d["revision"]): d["containerProperties"] for d in definitions}
    assert set(by_name) == {
        (runner.definition_name(IMAGE), 1),
        (runner.definition_name("quay.io/humancellatlas/other:1"), 1),
    }
    mine = by_name[(runner.definition_name(IMAGE), 1)]
    assert mine["image"] == IMAGE
    assert mine["jobRoleArn"] == batch.role_arn
    assert runner.definition_name(IMAGE).startswith("upload-test-")
    assert len(runner.definition_name(IMAGE)) == len("upload-test-") + 16


def test_submit_sends_the_jobs_command_environment_and_timeout(
    batch: MotoBatch, runner: BatchJobRunner
) -> None:
    spec = JobSpec(
        "validate R1.fastq.gz in area 9f1c/\u00e9",
        IMAGE,
        ["/validator", "R1.fastq.gz"],
        environment={"UPLOAD_AREA": "9f1c", "VALIDATION_ID": "42"},
        vcpus=2,
        memory_mib=4096,
        timeout_seconds=5,
    )

    job = batch.client.describe_jobs(jobs=[runner.submit(spec)])["jobs"][0]

    assert job["jobName"] == "validate_R1_fastq_gz_in_area_9f1c__"
    assert job["jobQueue"].endswith(f":job-queue/{JOB_QUEUE}")
    assert job["container"]["command"] == ["/validator", "R1.fastq.gz"]
    environment = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert environment["UPLOAD_AREA"] == "9f1c"
    assert environment["VALIDATION_ID"] == "42"
    assert job["timeout"] == {"attemptDurationSeconds": 60}  # Batch's minimum, above the asked 5 s


def test_a_batch_timeout_is_reported_as_timed_out(batch: MotoBatch, runner: BatchJobRunner) -> None:
    job_id = runner.submit(JobSpec("t", IMAGE, []))
    batch.fail(job_id, "Job attempt duration exceeded timeout")

    status = runner.describe(job_id)

    assert status.state is JobState.FAILED
    assert status.reason == "timed out: Job attempt duration exceeded timeout"


def test_a_failure_without_a_reason_still_says_something(batch: MotoBatch, runner: BatchJobRunner) -> None:
    job_id = runner.submit(JobSpec("f", IMAGE, []))
    batch.fail(job_id, "")

    assert runner.describe(job_id).reason == "AWS Batch gave no reason"


def test_definitions_and_jobs_retry_host_terminations_and_nothing_else(
    batch: MotoBatch, runner: BatchJobRunner
) -> None:
    sent: list[dict[str, Any]] = []  # what SubmitJob asks for (moto keeps no retry strategy on a job)
    batch.client.meta.events.register(
        "provide-client-params.batch.SubmitJob", lambda params, **_: sent.append(dict(params))
    )
    job = batch.client.describe_jobs(jobs=[runner.submit(JobSpec("r", IMAGE, []))])["jobs"][0]
    [definition] = batch.client.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
        "jobDefinitions"
    ]

    expected = {
        "attempts": 3,
        "evaluateOnExit": [
            {"onStatusReason": "Host EC2*", "action": "RETRY"},
            {"onReason": "*", "action": "EXIT"},
        ],
    }
    assert upper_actions(definition["retryStrategy"]) == expected
    [submitted] = sent
    assert submitted["retryStrategy"] == expected  # also on jobs of definitions registered before it


def upper_actions(strategy: Any) -> Any:
    """Batch reads actions case-insensitively (and moto gives them back in lower case)."""
    rules = [{**rule, "action": rule["action"].upper()} for rule in strategy["evaluateOnExit"]]
    return {**strategy, "evaluateOnExit": rules}


def test_a_job_lost_with_its_host_is_interrupted_and_an_application_failure_is_not(
    batch: MotoBatch, runner: BatchJobRunner
) -> None:
    lost = runner.submit(JobSpec("lost", IMAGE, []))
    batch.fail(lost, "Host EC2 (instance i-0123456789abcdef0) terminated.")
    crashed = runner.submit(JobSpec("crashed", IMAGE, []))
    batch.play(crashed, ["exit", "1"])

    assert runner.describe(lost).interrupted
    assert runner.describe(lost).reason == "Host EC2 (instance i-0123456789abcdef0) terminated."
    assert (runner.describe(crashed).state, runner.describe(crashed).interrupted) == (JobState.FAILED, False)


@pytest.mark.parametrize(
    ("batch_status", "state"),
    [
        ("PENDING", JobState.SUBMITTED),
        ("RUNNABLE", JobState.SUBMITTED),
        ("STARTING", JobState.SUBMITTED),
        ("RUNNING", JobState.RUNNING),
    ],
)
def test_batch_statuses_map_onto_four_states(
    batch: MotoBatch, runner: BatchJobRunner, batch_status: str, state: JobState
) -> None:
    job_id = runner.submit(JobSpec("s", IMAGE, []))
    batch.job(job_id).status = batch_status

    assert runner.describe(job_id).state is state


def test_throttling_is_retried(batch: MotoBatch) -> None:
    client = _client_without_botocore_retries()
    throttled = _throttle(client, "SubmitJob", times=2)
    runner = BatchJobRunner(client, JOB_QUEUE, batch.role_arn, "upload-test", max_wait_seconds=0.05)

    job_id = runner.submit(JobSpec("r", IMAGE, []))

    assert throttled == ["SubmitJob"] * 3  # two refusals, then the call that went through
    assert runner.describe(job_id).state is JobState.SUCCEEDED


def test_endless_throttling_becomes_a_job_runner_error(batch: MotoBatch) -> None:
    client = _client_without_botocore_retries()
    throttled = _throttle(client, "DescribeJobs", times=100)
    runner = BatchJobRunner(
        client, JOB_QUEUE, batch.role_arn, "upload-test", max_attempts=3, max_wait_seconds=0.05
    )

    with pytest.raises(JobRunnerError, match="DescribeJobs: TooManyRequestsException") as raised:
        runner.describe("0f5c7a3e-0000-4000-8000-000000000000")
    assert len(throttled) == 3
    assert not isinstance(raised.value, JobRefusedError)  # it may pass: callers try again later


def test_provider_errors_become_job_runner_errors(batch: MotoBatch) -> None:
    runner = BatchJobRunner(batch.client, "no-such-queue", batch.role_arn, "upload-test")

    # A request Batch calls invalid (ClientException) fails the same way every time: refused.
    with pytest.raises(JobRefusedError, match="AWS Batch SubmitJob: ClientException"):
        runner.submit(JobSpec("q", IMAGE, []))


def test_an_ecr_image_runs_by_the_digest_ecr_gives_its_tag(batch: MotoBatch, runner: BatchJobRunner) -> None:
    image, digest = ecr_image("dcp-upload-validators/fastq", "1.0")

    resolved = runner.resolve_image(image)
    job = batch.client.describe_jobs(jobs=[runner.submit(JobSpec("v", resolved.reference, []))])["jobs"][0]

    assert resolved == ResolvedImage(f"{ECR_REGISTRY}/dcp-upload-validators/fastq@{digest}", digest)
    [definition] = batch.client.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
        "jobDefinitions"
    ]
    assert definition["containerProperties"]["image"] == resolved.reference


def test_a_tag_pushed_again_runs_the_new_content_under_a_definition_of_its_own(
    batch: MotoBatch, runner: BatchJobRunner
) -> None:
    image, first = ecr_image("dcp-upload-validators/json", "latest")
    runner.submit(JobSpec("a", runner.resolve_image(image).reference, []))
    _, second = ecr_image("dcp-upload-validators/json", "latest")  # the tag now names other content

    resolved = runner.resolve_image(image)
    runner.submit(JobSpec("b", resolved.reference, []))

    assert resolved.digest == second != first
    images = {
        d["containerProperties"]["image"]
        for d in batch.client.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    }
    repository = f"{ECR_REGISTRY}/dcp-upload-validators/json"
    assert images == {f"{repository}@{first}", f"{repository}@{second}"}


def test_an_image_with_a_digest_runs_as_it_is_given(runner: BatchJobRunner) -> None:
    digest = f"sha256:{'a' * 64}"
    for image in (f"quay.io/hca/fastq@{digest}", f"quay.io/hca/fastq:1@{digest}"):
        assert runner.resolve_image(image) == ResolvedImage(image, digest)


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (IMAGE, "not in an Amazon ECR registry and carries no digest"),
        (f"{ECR_REGISTRY}/no/such-repository:1", "Amazon ECR DescribeImages: RepositoryNotFoundException"),
        (f"{ECR_REGISTRY}/dcp-upload-validators/gzip:no-such-tag", "ImageNotFoundException"),
        ("Not An Image; rm -rf /", "not a valid image reference"),
    ],
)
def test_an_image_that_cannot_be_pinned_is_refused(runner: BatchJobRunner, image: str, problem: str) -> None:
    ecr_image("dcp-upload-validators/gzip", "1")

    with pytest.raises(JobRefusedError, match=re.escape(problem)):
        runner.resolve_image(image)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("checksum-area-1_file", "checksum-area-1_file"),
        ("a b/c.d", "a_b_c_d"),
        ("_hidden", "job_hidden"),
        ("", "job"),
        ("x" * 300, "x" * 128),
    ],
)
def test_job_names_are_what_batch_accepts(name: str, expected: str) -> None:
    assert job_name(name) == expected


def _client_without_botocore_retries() -> Any:
    # botocore's own retries would hide the throttling from the runner's tenacity policy.
    return boto_clients.client(
        "batch", region_name=REGION, config=boto_clients.client_config(retries={"max_attempts": 1})
    )


def _throttle(client: Any, operation: str, times: int) -> list[str]:
    """Make the next `times` calls of `operation` answer TooManyRequestsException, as Batch does."""
    calls: list[str] = []

    def refuse(**_kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        calls.append(operation)
        if len(calls) > times:
            return None
        error = {"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}}
        return AWSResponse("https://batch.us-east-1.amazonaws.com", 429, HTTPHeaders(), None), error

    client.meta.events.register(f"before-call.batch.{operation}", refuse)
    return calls
