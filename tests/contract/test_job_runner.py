"""Contract of `JobRunner`: AWS Batch (moto, no Docker) and the local process runner (for real).

`resolve_image` pins an image to a `sha256:` digest: for Batch an image pushed to moto's ECR, for the
local runner the contract's image (its command is the Python that runs the script).

Jobs speak a tiny command language: `exit N [message]` ends with code N (printing the message to
stderr), `sleep N` runs for N seconds. The local runner maps the contract's image to a Python script that
does exactly that; for Batch, `support.moto_batch.MotoBatch` plays the container's part.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from moto import mock_aws

from support.moto_batch import BATCH_CONFIG, ECR_REGISTRY, JOB_QUEUE, MotoBatch, ecr_image
from upload_common.errors import JobNotFoundError, JobRefusedError
from upload_common.jobs import JobRunner, JobSpec, JobState, JobStatus
from upload_common.jobs.batch import BatchJobRunner
from upload_common.jobs.local import LocalJobRunner

IMAGE = "quay.io/humancellatlas/contract-job:1"
SCRIPT = """
import sys, time
verb, value, *message = sys.argv[1:]
if verb == "sleep":
    time.sleep(float(value))
    sys.exit(0)
if message:
    print(message[0], file=sys.stderr)
sys.exit(int(value))
"""


@dataclass
class RunnerCase:
    """One implementation, and what stands in for the world around it."""

    runner: JobRunner
    play: Callable[[str, Sequence[str]], None]  # after submit: the container runs the command
    advance: Callable[[str], None]  # on each poll: the provider moves on
    runs_commands: bool  # false for moto's Batch: exit codes and timeouts are not observable there
    image: str  # an image the runner can pin (and run)
    unknown_image: str  # a well-formed image the runner has nothing for


@pytest.fixture(params=["aws-batch", "local"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunnerCase]:
    if request.param == "aws-batch":
        with mock_aws(config=BATCH_CONFIG):
            batch = MotoBatch()
            batch_runner = BatchJobRunner(batch.client, JOB_QUEUE, batch.role_arn, "upload-test")
            image, _digest = ecr_image("contract/job", "1")
            unknown = f"{ECR_REGISTRY}/contract/job:2"
            yield RunnerCase(batch_runner, batch.play, batch.advance, False, image, unknown)
        return
    runner = LocalJobRunner(tmp_path / "jobs", {IMAGE: [sys.executable, "-c", SCRIPT]})
    yield RunnerCase(runner, _nothing, _nothing, True, IMAGE, "quay.io/nobody/unknown:1")


def _nothing(*_args: object) -> None:
    """The local runner runs the command itself: nothing stands in for the world."""


def test_a_job_that_exits_zero_succeeds(case: RunnerCase) -> None:
    status = _run(case, ["exit", "0"])

    assert status.state is JobState.SUCCEEDED
    assert status.reason is None
    assert status.exit_code == (0 if case.runs_commands else None)


def test_a_job_that_exits_non_zero_fails_with_its_code_and_a_reason(case: RunnerCase) -> None:
    status = _run(case, ["exit", "3", "the FASTQ header is broken"])

    assert status.state is JobState.FAILED
    assert status.reason is not None
    assert "the FASTQ header is broken" in status.reason
    if case.runs_commands:
        assert status.exit_code == 3


def test_cancel_stops_a_running_job(case: RunnerCase) -> None:
    command = ["sleep", "60"]
    job_id = case.runner.submit(_spec(command))
    case.play(job_id, command)
    assert _wait(case, job_id, lambda s: s.state is not JobState.SUBMITTED).state is JobState.RUNNING

    case.runner.cancel(job_id, "operator asked")
    status = _wait(case, job_id, lambda s: s.state.final)

    assert status.state is JobState.FAILED
    assert status.reason is not None
    assert "operator asked" in status.reason


def test_cancel_leaves_a_finished_job_as_it_ended(case: RunnerCase) -> None:
    status = _run(case, ["exit", "0"])

    case.runner.cancel(status.job_id, "too late")
    case.advance(status.job_id)

    assert case.runner.describe(status.job_id) == status


def test_each_submit_is_a_new_job(case: RunnerCase) -> None:
    first = case.runner.submit(_spec(["exit", "0"]))
    second = case.runner.submit(_spec(["exit", "0"]))

    assert first != second
    assert case.runner.describe(first).job_id == first


def test_unknown_job_ids_are_not_found(case: RunnerCase) -> None:
    unknown = uuid.uuid4().hex
    with pytest.raises(JobNotFoundError):
        case.runner.describe(unknown)
    with pytest.raises(JobNotFoundError):
        case.runner.cancel(unknown)


def test_a_job_past_its_timeout_fails_saying_it_timed_out(case: RunnerCase) -> None:
    if not case.runs_commands:
        pytest.skip("moto's Batch runs no container; the timeout it is given is checked in test_jobs_batch")
    job_id = case.runner.submit(_spec(["sleep", "60"], timeout_seconds=1))

    status = _wait(case, job_id, lambda s: s.state.final)

    assert status.state is JobState.FAILED
    assert status.reason is not None
    assert "timed out" in status.reason


def test_resolve_image_pins_an_image_to_a_sha256_digest_that_runs(case: RunnerCase) -> None:
    resolved = case.runner.resolve_image(case.image)

    assert re.fullmatch(r"sha256:[0-9a-f]{64}", resolved.digest)
    assert case.runner.resolve_image(case.image) == resolved  # the same content, the same answer
    assert _run(case, ["exit", "0"], image=resolved.reference).state is JobState.SUCCEEDED


def test_an_image_pinned_to_its_digest_resolves_to_that_digest(case: RunnerCase) -> None:
    digest = case.runner.resolve_image(case.image).digest

    pinned = case.runner.resolve_image(f"{case.image}@{digest}")

    assert pinned.digest == digest
    assert _run(case, ["exit", "0"], image=pinned.reference).state is JobState.SUCCEEDED


def test_an_image_the_runner_has_nothing_for_is_refused(case: RunnerCase) -> None:
    with pytest.raises(JobRefusedError):
        case.runner.resolve_image(case.unknown_image)


def _spec(command: Sequence[str], timeout_seconds: int = 120, image: str = IMAGE) -> JobSpec:
    return JobSpec(name="contract job", image=image, command=command, timeout_seconds=timeout_seconds)


def _run(case: RunnerCase, command: Sequence[str], image: str = IMAGE) -> JobStatus:
    job_id = case.runner.submit(_spec(command, image=image))
    case.play(job_id, command)
    return _wait(case, job_id, lambda s: s.state.final)


def _wait(case: RunnerCase, job_id: str, done: Callable[[JobStatus], bool], limit: float = 20) -> JobStatus:
    # A generous limit that only guards against a hang; nothing here measures speed.
    deadline = time.monotonic() + limit
    while True:
        case.advance(job_id)
        status = case.runner.describe(job_id)
        if done(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.02)
