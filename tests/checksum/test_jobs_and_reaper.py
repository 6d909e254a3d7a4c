"""Large files go to a checksum job; the job reports through the callback; the reaper never lets a run
hang; the Lambda handler reports only the failed records."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from moto import mock_aws
from sqlalchemy import select, update

from checksum.conftest import Upload
from checksum.test_worker import s3_event
from support.callback_server import serve_callbacks
from support.checksums import reference_checksums
from support.jobs import DUMP_ENVIRONMENT, job_environment
from support.moto_batch import BATCH_CONFIG, JOB_QUEUE, MotoBatch
from support.waiting import wait_until
from upload_checksum import lambda_handlers as lambda_entry
from upload_checksum.job_settings import ChecksumJobSettings
from upload_checksum.reaper import MAX_RUNS, reap
from upload_checksum.run_job import key_of, run_checksum_job
from upload_checksum.worker import Outcome, handle_record
from upload_common import messages
from upload_common.callback_tokens import verify_job_token
from upload_common.checksum_tags import checksum_tags
from upload_common.errors import InvalidInputError
from upload_common.job_reports import Reporter
from upload_common.jobs import JobState
from upload_common.jobs.batch import BatchJobRunner
from upload_common.jobs.local import LocalJobRunner
from upload_common.models import ChecksumRun, FileVersion, Notification, utcnow
from upload_common.service_context import ServiceContext
from upload_common.settings import load_settings
from upload_common.statuses import ChecksumStatus


def local_runner(tmp_path: Path, command: str) -> LocalJobRunner:
    return LocalJobRunner(
        tmp_path / "jobs", {"dcp-upload/checksum": ["sh", "-c", command, "job"]}, sandbox=False
    )


def wait_for(runner: LocalJobRunner, job_id: str) -> JobState:
    status = wait_until(
        lambda: (found := runner.describe(job_id)).state.final and found, what=f"job {job_id} to end"
    )
    return status.state


def test_files_above_the_inline_limit_go_to_a_job(
    context: ServiceContext, area: str, upload: Upload, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context.job_runner = runner = local_runner(tmp_path, DUMP_ENVIRONMENT)
    info = upload("huge.bam", b"x" * 2048)
    assert handle_record(context, s3_event(area, "huge.bam"), inline_max_bytes=1024) == [
        Outcome.JOB_SUBMITTED
    ]
    with context.sessions() as session:
        run = session.scalars(select(ChecksumRun)).one()
        assert run.status is ChecksumStatus.SCHEDULED
        assert run.job_id is not None
    # A redelivered event leaves the scheduled job alone.
    assert handle_record(context, s3_event(area, "huge.bam"), inline_max_bytes=1024) == [Outcome.IN_PROGRESS]
    spec = json.loads((tmp_path / "jobs" / run.job_id / "spec.json").read_text())
    env = job_environment(runner, run.job_id)
    assert env["UPLOAD_CALLBACK_URL"].endswith(f"/v1/area/{area}/update_checksum/{run.id}")
    assert verify_job_token("test-server-secret", "checksum", str(run.id), env["UPLOAD_CALLBACK_TOKEN"])
    assert env["UPLOAD_EXPECTED_ETAG"] == info.etag
    assert spec["argv"][-2:] == ["run", context.store.object_url(f"{area}/huge.bam")]
    for name, value in env.items():  # the job reads what the submitter set
        monkeypatch.setenv(name, value)
    job = load_settings(ChecksumJobSettings)
    assert (job.checksum_id, job.expected_etag) == (str(run.id), info.etag)
    assert job.callback_token.get_secret_value() == env["UPLOAD_CALLBACK_TOKEN"]


def test_small_files_stay_inline_even_with_a_runner(
    context: ServiceContext, area: str, upload: Upload, tmp_path: Path
) -> None:
    context.job_runner = local_runner(tmp_path, "exit 1")
    upload("small", b"x")
    assert handle_record(context, s3_event(area, "small"), inline_max_bytes=1024) == [Outcome.CHECKSUMMED]


def test_the_job_reports_progress_and_the_checksums(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    data = b"ACGT" * 300_000
    info = upload("huge.bam", data)
    with serve_callbacks() as server:
        reporter = Reporter(f"{server.url_base}/cb", "tok", "job-7", retry_wait=0.01)
        status = run_checksum_job(
            context.store.object_url(f"{area}/huge.bam"), info.etag, context.settings, reporter
        )
    assert status == "CHECKSUMMED"
    assert server.statuses() == ["CHECKSUMMING", "CHECKSUMMED"]
    final = server.final()
    assert final.authorization == "Bearer tok"
    assert final.body == {
        "status": "CHECKSUMMED",
        "job_id": "job-7",
        "payload": {"checksums": reference_checksums(data)},
    }
    assert context.store.get_tags(f"{area}/huge.bam") == checksum_tags(reference_checksums(data), "hca-dss-")


def test_the_job_aborts_when_the_object_changed(context: ServiceContext, area: str, upload: Upload) -> None:
    old = upload("f", b"one")
    upload("f", b"two!")
    with serve_callbacks() as server:
        reporter = Reporter(f"{server.url_base}/cb", "tok", None, retry_wait=0.01)
        assert (
            run_checksum_job(context.store.object_url(f"{area}/f"), old.etag, context.settings, reporter)
            == "ABORTED"
        )
    assert server.statuses() == ["CHECKSUMMING", "ABORTED"]


def test_the_job_fails_with_a_reason(context: ServiceContext, area: str) -> None:
    with serve_callbacks() as server:
        reporter = Reporter(f"{server.url_base}/cb", "tok", None, retry_wait=0.01)
        # An object URL outside the configured store: nothing to read, a FAILED report says why.
        assert run_checksum_job("s3://elsewhere/x", "etag", context.settings, reporter) == "FAILED"
    assert server.statuses() == ["FAILED"]
    assert "not an object of the store" in server.final().body["payload"]["reason"]


def test_key_of_refuses_urls_outside_the_store(context: ServiceContext) -> None:
    assert key_of(context.store, context.store.url + "/a/b c") == "a/b c"
    with pytest.raises(InvalidInputError):
        key_of(context.store, context.store.url + "/")


def test_reaper_requeues_a_stalled_inline_run(context: ServiceContext, area: str, upload: Upload) -> None:
    upload("f", b"data")
    handle_record(context, s3_event(area, "f"))
    with context.sessions.begin() as session:  # pretend the run stalled mid-way long ago
        session.execute(
            update(ChecksumRun).values(status="CHECKSUMMING", updated_at=utcnow() - timedelta(minutes=10))
        )
        from upload_common.models import FileVersion  # noqa: PLC0415

        session.execute(update(FileVersion).values(status="UPLOADED", checksums=None))
    report = reap(context)
    assert (report.requeued, report.failed) == (1, 0)
    queue = context.queue("checksum")
    [message] = queue.receive(max_messages=10)
    assert json.loads(message.body) == json.loads(messages.file_uploaded(area, "f"))
    assert handle_record(context, message.body) == [Outcome.CHECKSUMMED]
    with context.sessions() as session:
        run = session.scalars(select(ChecksumRun)).one()
        assert run.status is ChecksumStatus.CHECKSUMMED  # the same run, resumed


def test_reaper_fails_a_run_whose_job_failed(
    context: ServiceContext, area: str, upload: Upload, tmp_path: Path
) -> None:
    context.job_runner = local_runner(tmp_path, "echo out of memory >&2; exit 137")
    upload("huge.bam", b"x" * 2048)
    handle_record(context, s3_event(area, "huge.bam"), inline_max_bytes=1024)
    with context.sessions() as session:
        job_id = session.scalars(select(ChecksumRun.job_id)).one()
    assert job_id is not None
    assert wait_for(context.job_runner, job_id) is JobState.FAILED
    with context.sessions.begin() as session:
        session.execute(update(ChecksumRun).values(updated_at=utcnow() - timedelta(minutes=10)))
    assert reap(context).failed == 1
    with context.sessions() as session:
        run = session.scalars(select(ChecksumRun)).one()
        assert run.status is ChecksumStatus.FAILED
        assert run.reason is not None
        assert f"job {job_id} failed" in run.reason
    [note] = file_uploaded_notes(context)  # the version gave up: ingest is told why
    assert (note.payload["status"], note.payload["reason"]) == ("FAILED", run.reason)
    assert (note.payload["name"], note.payload["checksums"]) == ("huge.bam", None)
    assert note.payload["url"] == context.store.object_url(f"{area}/huge.bam")
    reap(context, now=utcnow() + timedelta(hours=1))
    assert len(file_uploaded_notes(context)) == 1  # once per version


def file_uploaded_notes(context: ServiceContext) -> list[Notification]:
    with context.sessions() as session:
        return list(
            session.scalars(select(Notification).where(Notification.event_type == "file_uploaded")).all()
        )


def age_runs(context: ServiceContext, by: timedelta, *, created: bool = False) -> None:
    """As if the runs' last heartbeat (and, with `created`, their creation) were `by` ago."""
    then = utcnow() - by
    with context.sessions.begin() as session:
        session.execute(
            update(ChecksumRun).values(updated_at=then, **({"created_at": then} if created else {}))
        )


def test_reaper_gives_up_a_run_that_stalled_for_hours_and_tells_ingest(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    upload("f", b"data")
    handle_record(context, s3_event(area, "f"))
    with context.sessions.begin() as session:  # the run stalled mid-way, and has done so for hours
        session.execute(update(ChecksumRun).values(status="CHECKSUMMING"))
        session.execute(update(FileVersion).values(status="UPLOADED", checksums=None))
        session.execute(update(Notification).values(event_type="file_validated"))  # forget the first
    age_runs(context, timedelta(hours=7), created=True)

    assert (reap(context).failed, reap(context).failed) == (1, 0)

    [note] = file_uploaded_notes(context)
    assert (note.payload["status"], note.payload["reason"]) == (
        "FAILED",
        "checksumming stalled repeatedly; gave up",
    )


def test_a_vanished_job_gets_new_runs_then_the_version_gives_up(
    context: ServiceContext, area: str, upload: Upload, tmp_path: Path
) -> None:
    context.job_runner = runner = local_runner(tmp_path, "true")
    upload("huge.bam", b"x" * 2048)
    body = s3_event(area, "huge.bam")
    for run_number in range(1, MAX_RUNS + 1):
        assert handle_record(context, body, inline_max_bytes=1024) == [Outcome.JOB_SUBMITTED]
        with context.sessions() as session:
            job_id = session.scalars(
                select(ChecksumRun.job_id).where(ChecksumRun.status == ChecksumStatus.SCHEDULED)
            ).one()
        assert job_id is not None
        wait_for(runner, job_id)
        shutil.rmtree(runner.state_dir / job_id)  # the runner forgets the job (Batch does, after a while)
        age_runs(context, timedelta(minutes=10))

        report = reap(context)

        if run_number < MAX_RUNS:  # queued again for a new run, ingest not told yet
            assert (report.requeued, report.failed) == (1, 1)
            assert file_uploaded_notes(context) == []
            [message] = context.queue("checksum").receive(max_messages=10)
            context.queue("checksum").ack(message)
            body = message.body
        else:
            assert (report.requeued, report.failed) == (0, 1)
            assert context.queue("checksum").receive(max_messages=10) == []
    with context.sessions() as session:
        runs = session.scalars(select(ChecksumRun).order_by(ChecksumRun.created_at)).all()
        assert [run.status for run in runs] == [ChecksumStatus.FAILED] * MAX_RUNS
        assert all("vanished" in (run.reason or "") for run in runs)
        assert "gets another run" in (runs[0].reason or "")
    [note] = file_uploaded_notes(context)
    assert note.payload["status"] == "FAILED"
    assert f"job {runs[-1].job_id} vanished" in note.payload["reason"]
    assert reap(context).failed == 0  # nothing left to reap: no warning every minute


def test_lambda_handler_reports_only_failed_records(
    context: ServiceContext, area: str, upload: Upload, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_entry, "_context", lambda: context)
    upload("ok", b"1")
    event = {
        "Records": [
            {"messageId": "1", "body": s3_event(area, "ok")},
            {"messageId": "2", "body": "{not json"},  # dropped: retrying cannot help
            {"messageId": "3", "body": json.dumps({"Event": "s3:TestEvent"})},
        ]
    }
    assert lambda_entry.handler(event, None) == {"batchItemFailures": []}
    context.store = type(context.store).__new__(type(context.store))  # a store that cannot work
    assert lambda_entry.handler({"Records": [{"messageId": "4", "body": s3_event(area, "ok")}]}, None) == {
        "batchItemFailures": [{"itemIdentifier": "4"}]
    }


HOST_TERMINATED = "Host EC2 (instance i-0123456789abcdef0) terminated."


def test_a_job_lost_to_a_spot_interruption_gets_new_runs_and_an_application_failure_does_not(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    with mock_aws(config=BATCH_CONFIG):  # Batch without Docker, inside the store's moto
        batch = MotoBatch()
        context.job_runner = BatchJobRunner(batch.client, JOB_QUEUE, batch.role_arn, "upload-test")
        context.settings = context.settings.model_copy(
            update={"checksum_job_image": f"quay.io/humancellatlas/checksum@sha256:{'a' * 64}"}
        )
        upload("huge.bam", b"x" * 2048)
        body = s3_event(area, "huge.bam")
        jobs: list[str] = []
        for _ in range(MAX_RUNS):
            assert handle_record(context, body, inline_max_bytes=1024) == [Outcome.JOB_SUBMITTED]
            with context.sessions() as session:
                job_id = session.scalars(
                    select(ChecksumRun.job_id).where(ChecksumRun.status == ChecksumStatus.SCHEDULED)
                ).one()
            assert job_id is not None
            jobs.append(job_id)
            batch.fail(job_id, HOST_TERMINATED)  # Batch's own retries were used up too
            age_runs(context, timedelta(minutes=10))
            report = reap(context)
            messages_now = context.queue("checksum").receive(max_messages=10)
            for message in messages_now:
                context.queue("checksum").ack(message)
                body = message.body
            if report.requeued == 0:
                break
            assert file_uploaded_notes(context) == []  # resubmitted: ingest is not told yet
        assert len(set(jobs)) == MAX_RUNS  # a new job each time, then the version gives up
        with context.sessions() as session:
            runs = session.scalars(select(ChecksumRun).order_by(ChecksumRun.created_at)).all()
            assert [run.status for run in runs] == [ChecksumStatus.FAILED] * MAX_RUNS
            assert all(f"was interrupted: {HOST_TERMINATED}" in (run.reason or "") for run in runs)
        [note] = file_uploaded_notes(context)
        assert note.payload["status"] == "FAILED"

        # An application failure (the job's own exit code) is never run again.
        upload("crash.bam", b"y" * 2048)
        handle_record(context, s3_event(area, "crash.bam"), inline_max_bytes=1024)
        with context.sessions() as session:
            job_id = session.scalars(
                select(ChecksumRun.job_id).where(ChecksumRun.status == ChecksumStatus.SCHEDULED)
            ).one()
        assert job_id is not None
        batch.play(job_id, ["exit", "1"])
        age_runs(context, timedelta(minutes=10))
        assert (reap(context).requeued, context.queue("checksum").receive(max_messages=10)) == (0, [])
