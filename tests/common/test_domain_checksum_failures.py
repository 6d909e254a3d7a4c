"""Runs that end FAILED: another run while it can help, then the version gives up and ingest is told once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from support.factories import make_checksum, make_file
from upload_common.domain.checksum_failures import fail_checksum_run, retry_or_fail_run
from upload_common.models import Notification
from upload_common.statuses import ChecksumStatus, FileStatus, NotificationType

URL = "s3://bucket/area/f"


def file_uploaded(session: Session) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification).where(Notification.event_type == NotificationType.FILE_UPLOADED)
        ).all()
    )


def test_a_version_that_gives_up_is_notified_failed_once(db_session: Session) -> None:
    version = make_file(db_session)
    first, second = make_checksum(db_session, version), make_checksum(db_session, version)

    assert fail_checksum_run(db_session, first, version, "job j-1 failed: out of memory", URL) is True
    assert fail_checksum_run(db_session, second, version, "job j-2 failed: out of memory", URL) is False

    assert (first.status, first.reason) == (ChecksumStatus.FAILED, "job j-1 failed: out of memory")
    assert second.status is ChecksumStatus.FAILED
    [note] = file_uploaded(db_session)
    assert note.file_id == version.id
    assert note.payload["status"] == "FAILED"
    assert note.payload["reason"] == "job j-1 failed: out of memory"
    assert (note.payload["url"], note.payload["checksums"]) == (URL, None)


def test_a_version_checksummed_after_all_is_not_notified_failed(db_session: Session) -> None:
    version = make_file(db_session, status=FileStatus.CHECKSUMMED)
    run = make_checksum(db_session, version, status=ChecksumStatus.CHECKSUMMING)

    assert fail_checksum_run(db_session, run, version, "stalled", URL) is False

    assert run.status is ChecksumStatus.FAILED
    assert file_uploaded(db_session) == []


def test_vanished_runs_are_retried_up_to_the_limit(db_session: Session) -> None:
    version = make_file(db_session)
    runs = [make_checksum(db_session, version, job_id=f"j-{n}") for n in range(3)]

    retried = [
        retry_or_fail_run(db_session, run, version, f"job {run.job_id} vanished", url=URL, max_runs=3)
        for run in runs
    ]

    assert retried == [True, True, False]
    assert [run.status for run in runs] == [ChecksumStatus.FAILED] * 3
    assert runs[0].reason == "job j-0 vanished; the version gets another run"
    [note] = file_uploaded(db_session)
    assert note.payload["reason"] == "job j-2 vanished"
