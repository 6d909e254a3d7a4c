"""One function records checksums for every path; the claim decides who checksums a version.
On PostgreSQL and SQLite (`db_session`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from support.factories import make_area, make_checksum, make_file
from upload_common.callback_tokens import verify_job_token
from upload_common.domain.checksum_results import (
    apply_checksum_report,
    record_checksum_result,
    record_checksummed_upload,
)
from upload_common.domain.checksum_runs import (
    WRITTEN_WHILE_LOCKED,
    Claim,
    Known,
    RefusedObject,
    SeenObject,
    Skip,
    claim_checksum_run,
    record_refused_object,
)
from upload_common.domain.jobs import JobReport, callback_environment
from upload_common.domain.state_machines import transition_area
from upload_common.errors import IllegalTransitionError, InvalidInputError, NotFoundError
from upload_common.models import ChecksumRun, FileVersion, Notification, UploadArea
from upload_common.settings import Settings
from upload_common.statuses import AreaStatus, ChecksumStatus, FileOrigin, FileStatus
from upload_common.storage import ObjectInfo
from upload_common.storage.base import store_order

CHECKSUMS = {"sha1": "a" * 40, "sha256": "b" * 64, "crc32c": "0000abcd", "s3_etag": "c" * 32}
STALE = timedelta(minutes=5)


def _info(etag: str, metadata: dict[str, str] | None = None) -> ObjectInfo:
    return ObjectInfo(
        key="ignored",
        size=3,
        etag=etag,
        last_modified=datetime(2026, 1, 1, tzinfo=UTC),
        content_type="text/plain; dcp-type=data",
        metadata=metadata or {},
    )


def _notifications(session: Session, version: FileVersion) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.file_id == version.id)))


def test_recording_compares_declared_checksums_and_notifies_once(db_session: Session) -> None:
    area = make_area(db_session)
    version = make_file(db_session, area, client_checksums={"crc32c": "ffffffff"})
    run = make_checksum(db_session, version, status=ChecksumStatus.CHECKSUMMING)

    verdict = record_checksum_result(db_session, version, run, CHECKSUMS, url="file:///x")
    again = record_checksum_result(db_session, version, run, CHECKSUMS, url="file:///x")

    assert verdict.recorded
    assert verdict.corrupt
    assert verdict.mismatches == {"crc32c": "ffffffff"}
    assert not again.recorded
    assert version.status is FileStatus.CORRUPT
    assert run.status is ChecksumStatus.CHECKSUMMED
    [notification] = _notifications(db_session, version)
    assert notification.payload["corrupt"] is True
    assert notification.payload["checksums"] == CHECKSUMS
    assert notification.payload["url"] == "file:///x"


def test_an_api_upload_is_recorded_through_the_same_function(db_session: Session) -> None:
    area = make_area(db_session)
    info = _info(CHECKSUMS["s3_etag"], metadata={"crc32c": "0000abcd"})

    version = record_checksummed_upload(db_session, area, "up.txt", info, CHECKSUMS, url="u")
    again = record_checksummed_upload(db_session, area, "up.txt", info, CHECKSUMS, url="u")

    assert again is version
    assert version.origin is FileOrigin.API
    assert version.status is FileStatus.CHECKSUMMED  # the declared crc32c agrees
    runs = db_session.scalars(select(ChecksumRun).where(ChecksumRun.file_id == version.id)).all()
    assert [r.status for r in runs] == [ChecksumStatus.CHECKSUMMED]
    [notification] = _notifications(db_session, version)
    assert notification.payload["corrupt"] is False
    assert notification.payload["origin"] == "api"


def test_a_job_report_moves_its_run_and_records_through_the_same_function(db_session: Session) -> None:
    area = make_area(db_session)
    version = make_file(db_session, area, client_checksums={"sha256": "b" * 64})
    run = make_checksum(db_session, version, status=ChecksumStatus.SCHEDULED, job_id="job-1")

    def url_of(v: FileVersion) -> str:
        return f"s3://bucket/{area.uuid}/{v.name}"

    apply_checksum_report(db_session, area.uuid, str(run.id), JobReport("CHECKSUMMING"), url_of=url_of)
    assert run.status is ChecksumStatus.CHECKSUMMING
    report = JobReport("CHECKSUMMED", "job-1", {"checksums": {k: v.upper() for k, v in CHECKSUMS.items()}})
    apply_checksum_report(db_session, area.uuid, str(run.id), report, url_of=url_of)
    apply_checksum_report(db_session, area.uuid, str(run.id), report, url_of=url_of)  # repeated: no-op

    assert version.status is FileStatus.CHECKSUMMED
    assert version.checksums == CHECKSUMS
    assert len(_notifications(db_session, version)) == 1
    with pytest.raises(IllegalTransitionError):
        apply_checksum_report(db_session, area.uuid, str(run.id), JobReport("CHECKSUMMING"), url_of=url_of)
    with pytest.raises(InvalidInputError, match="s3_etag"):
        apply_checksum_report(
            db_session,
            area.uuid,
            str(run.id),
            JobReport("CHECKSUMMED", payload={"checksums": {**CHECKSUMS, "s3_etag": "nope"}}),
            url_of=url_of,
        )
    with pytest.raises(NotFoundError):
        apply_checksum_report(db_session, make_area(db_session).uuid, str(run.id), report, url_of=url_of)
    with pytest.raises(InvalidInputError, match="cannot report"):
        apply_checksum_report(db_session, area.uuid, str(run.id), JobReport("SCHEDULED"), url_of=url_of)


def test_the_claim_decides_who_checksums_a_version(db_session: Session) -> None:
    area = make_area(db_session)
    stored = _info("d" * 32)
    seen = SeenObject(area.uuid, "c.txt", stored.etag, stored)

    claim = claim_checksum_run(db_session, seen, for_job=False, stale_after=STALE)
    assert isinstance(claim, Claim)
    assert claim_checksum_run(db_session, seen, for_job=False, stale_after=STALE) is Skip.IN_PROGRESS
    # Its heartbeat goes stale: the run is taken over, not duplicated.
    run = db_session.get(ChecksumRun, claim.run_id)
    assert run is not None
    run.updated_at = datetime.now(UTC) - 2 * STALE
    db_session.flush()
    taken = claim_checksum_run(db_session, seen, for_job=False, stale_after=STALE)
    assert isinstance(taken, Claim)
    assert taken.run_id == claim.run_id

    version = db_session.get(FileVersion, claim.version_id)
    assert version is not None
    record_checksum_result(db_session, version, run, CHECKSUMS, url="u")
    assert claim_checksum_run(db_session, seen, for_job=False, stale_after=STALE) == Known(CHECKSUMS)

    older = SeenObject(area.uuid, "c.txt", "e" * 32, stored, event_size=9)
    assert claim_checksum_run(db_session, older, for_job=False, stale_after=STALE) is Skip.ABORTED
    area.status = AreaStatus.DELETING
    db_session.flush()
    assert claim_checksum_run(db_session, seen, for_job=False, stale_after=STALE) is Skip.REMOVE


@pytest.mark.parametrize("status", [AreaStatus.DELETION_QUEUED, AreaStatus.DELETING, AreaStatus.DELETED])
def test_deletion_wins_over_objects_that_reach_an_area_being_deleted(
    db_session: Session, status: AreaStatus
) -> None:
    area = make_area(db_session, status=status)
    late = _info("f" * 32)
    seen = SeenObject(area.uuid, "late.bin", late.etag, late, event_size=3)

    assert claim_checksum_run(db_session, seen, for_job=False, stale_after=STALE) is Skip.REMOVE
    assert claim_checksum_run(db_session, seen, for_job=False, stale_after=STALE) is Skip.REMOVE  # again
    [version] = db_session.scalars(select(FileVersion).where(FileVersion.area_id == area.id)).all()
    assert (version.status, version.current, version.etag) == (FileStatus.DELETED, False, "f" * 32)
    assert version.reason is not None
    assert "deletion began" in version.reason
    assert db_session.scalars(select(ChecksumRun)).all() == []
    assert _notifications(db_session, version) == []


def test_an_object_under_a_refused_name_is_recorded_rejected_and_notified_once(db_session: Session) -> None:
    area = make_area(db_session)
    refused = RefusedObject(area.uuid, "folder/", "a" * 32, 0, "empty segment", store_order("5F"))

    assert record_refused_object(db_session, refused, url="s3://b/k") is Skip.REJECTED
    assert record_refused_object(db_session, refused, url="s3://b/k") is Skip.ALREADY_DONE  # redelivered

    [version] = db_session.scalars(select(FileVersion).where(FileVersion.area_id == area.id)).all()
    assert (version.name, version.status, version.reason, version.current) == (
        "folder/",
        FileStatus.REJECTED,
        "empty segment",
        False,
    )
    [notification] = _notifications(db_session, version)
    assert notification.payload["status"] == "REJECTED"
    assert notification.payload["reason"] == "empty segment"
    assert (notification.payload["name"], notification.payload["url"]) == ("folder/", "s3://b/k")
    assert notification.payload["checksums"] is None
    unknown = RefusedObject("deadbeef-dead-dead-dead-00000000000a", "a//b", "b" * 32, 1, "empty segment")
    assert record_refused_object(db_session, unknown, url="u") is Skip.IGNORED
    area.status = AreaStatus.DELETING
    again = RefusedObject(area.uuid, "a//b", "c" * 32, 1, "empty segment")
    assert record_refused_object(db_session, again, url="u") is Skip.REMOVE


def test_jobs_are_told_where_to_report_with_a_token_for_their_record_only() -> None:
    settings = Settings(public_url="https://upload.example.org/", secret_key="k")  # type: ignore[arg-type]
    environment = callback_environment(
        settings, "k", "validation", "deadbeef-dead-dead-dead-000000000003", "v1", job_timeout_seconds=60
    )

    assert environment["UPLOAD_CALLBACK_URL"] == (
        "https://upload.example.org/v1/area/deadbeef-dead-dead-dead-000000000003/update_validation/v1"
    )
    assert verify_job_token("k", "validation", "v1", environment["UPLOAD_CALLBACK_TOKEN"])
    assert not verify_job_token("k", "validation", "v2", environment["UPLOAD_CALLBACK_TOKEN"])
    # No public URL: the local API.
    local = callback_environment(Settings(), "k", "checksum", "a", "r", job_timeout_seconds=60)
    assert local["UPLOAD_CALLBACK_URL"].startswith("http://127.0.0.1:8080/v1/area/a/update_checksum/r")


def test_a_job_that_reports_failed_ends_its_version_and_ingest_hears_once(db_session: Session) -> None:
    area = make_area(db_session)
    version = make_file(db_session, area)
    run = make_checksum(db_session, version, status=ChecksumStatus.CHECKSUMMING, job_id="job-9")
    failed = JobReport("FAILED", "job-9", {"reason": "out of memory"})

    apply_checksum_report(db_session, area.uuid, str(run.id), failed, url_of=lambda v: "u")
    apply_checksum_report(db_session, area.uuid, str(run.id), failed, url_of=lambda v: "u")  # repeated

    assert run.status is ChecksumStatus.FAILED
    assert run.reason == "out of memory"
    [notification] = _notifications(db_session, version)
    assert (notification.payload["status"], notification.payload["reason"]) == ("FAILED", "out of memory")
    assert notification.payload["checksums"] is None


# -- writes while the area is locked (credentials issued before the lock still work) -------------------

LOCKED_AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _locked_area(db_session: Session, **fields: object) -> UploadArea:
    return make_area(db_session, status=AreaStatus.LOCKED, locked_at=LOCKED_AT, **fields)


def _stored(etag: str, last_modified: datetime) -> ObjectInfo:
    return ObjectInfo(
        key="ignored", size=3, etag=etag, last_modified=last_modified, content_type="text/plain"
    )


def _claim(db_session: Session, seen: SeenObject) -> Claim | Known | Skip:
    return claim_checksum_run(db_session, seen, for_job=False, stale_after=STALE)


def _version(db_session: Session, area: UploadArea, etag: str) -> FileVersion:
    return db_session.scalars(
        select(FileVersion).where(FileVersion.area_id == area.id, FileVersion.etag == etag)
    ).one()


def test_a_version_written_while_its_area_is_locked_is_rejected_and_notified_once(
    db_session: Session,
) -> None:
    area = _locked_area(db_session)
    good = make_file(db_session, area, name="r1.fastq", etag="a" * 32, status=FileStatus.CHECKSUMMED)
    after = LOCKED_AT + timedelta(milliseconds=5)
    stored = _stored("b" * 32, LOCKED_AT)  # Last-Modified in whole seconds: the event's time decides
    seen = SeenObject(area.uuid, "r1.fastq", "b" * 32, stored, 3, event_time=after, url="s3://b/k")

    assert _claim(db_session, seen) is Skip.REJECTED
    assert _claim(db_session, seen) is Skip.REJECTED  # redelivered: recorded and notified once

    rejected = _version(db_session, area, "b" * 32)
    assert (rejected.status, rejected.reason) == (FileStatus.REJECTED, WRITTEN_WHILE_LOCKED)
    # The store no longer holds the good version: the file has no current version now.
    assert (rejected.current, good.current) == (False, False)
    assert db_session.scalars(select(ChecksumRun).where(ChecksumRun.file_id == rejected.id)).all() == []
    [notification] = _notifications(db_session, rejected)
    assert (notification.payload["status"], notification.payload["reason"]) == (
        "REJECTED",
        WRITTEN_WHILE_LOCKED,
    )
    assert (notification.payload["name"], notification.payload["url"]) == ("r1.fastq", "s3://b/k")
    assert notification.payload["checksums"] is None


def test_the_head_s_last_modified_decides_when_the_event_tells_no_time(db_session: Session) -> None:
    area = _locked_area(db_session)
    later = _stored("c" * 32, LOCKED_AT + timedelta(seconds=2))
    assert _claim(db_session, SeenObject(area.uuid, "x.txt", "c" * 32, later)) is Skip.REJECTED
    # Written before the lock, its event handled during it: an ordinary version.
    earlier = _stored("d" * 32, LOCKED_AT - timedelta(seconds=2))
    assert isinstance(_claim(db_session, SeenObject(area.uuid, "y.txt", "d" * 32, earlier)), Claim)
    # An event for a version the store no longer holds, without a time: nothing tells when it was
    # written. What the store holds instead was written under the lock: rejected, also when seen so.
    replaced = SeenObject(area.uuid, "z.txt", "e" * 32, _stored("f" * 32, LOCKED_AT + timedelta(seconds=9)))
    assert _claim(db_session, replaced) is Skip.ABORTED
    assert _version(db_session, area, "e" * 32).status is FileStatus.UPLOADED
    instead = _version(db_session, area, "f" * 32)
    assert (instead.status, instead.reason, instead.current) == (
        FileStatus.REJECTED,
        WRITTEN_WHILE_LOCKED,
        False,
    )
    assert len(_notifications(db_session, instead)) == 1
    assert _claim(db_session, SeenObject(area.uuid, "z.txt", "f" * 32, _stored("f" * 32, LOCKED_AT))) is (
        Skip.REJECTED
    )  # its own event, telling another time (the lock's second): a second look, still rejected
    assert len(_notifications(db_session, instead)) == 1


def test_writes_outside_the_lock_period_are_ordinary_and_the_same_bytes_after_the_unlock_are_taken(
    db_session: Session,
) -> None:
    unlocked_at = LOCKED_AT + timedelta(minutes=10)
    area = make_area(db_session, status=AreaStatus.LOCKED, locked_at=LOCKED_AT)
    during = LOCKED_AT + timedelta(minutes=1)
    seen = SeenObject(area.uuid, "a.bam", "a" * 32, _stored("a" * 32, during), 3, event_time=during)
    assert _claim(db_session, seen) is Skip.REJECTED
    transition_area(area, AreaStatus.UNLOCKED)
    area.unlocked_at = unlocked_at

    # A late event of a write made during the lock is still judged by the lock period.
    late = SeenObject(area.uuid, "b.bam", "b" * 32, _stored("b" * 32, during), 3, event_time=during)
    assert _claim(db_session, late) is Skip.REJECTED
    # The same bytes uploaded again after the unlock: the rejected version becomes a good one.
    again = unlocked_at + timedelta(seconds=1)
    rewritten = SeenObject(area.uuid, "a.bam", "a" * 32, _stored("a" * 32, again), 3, event_time=again)
    claim = _claim(db_session, rewritten)

    assert isinstance(claim, Claim)
    version = _version(db_session, area, "a" * 32)
    assert (version.status, version.reason, version.current) == (FileStatus.UPLOADED, None, True)
    before = SeenObject(area.uuid, "c.bam", "c" * 32, _stored("c" * 32, LOCKED_AT), 3, event_time=LOCKED_AT)
    assert isinstance(_claim(db_session, before), Claim)  # the lock's own instant is not after it


def test_a_version_the_service_recorded_before_is_never_rejected_by_the_lock(db_session: Session) -> None:
    """The API's own PUT that was streaming when the lock came is taken (it began before the lock), and
    identical bytes written again under the lock are the version already taken."""
    area = _locked_area(db_session)
    taken = make_file(db_session, area, name="p.txt", etag="a" * 32, status=FileStatus.CHECKSUMMED)
    taken.checksums = CHECKSUMS
    during = LOCKED_AT + timedelta(seconds=30)
    seen = SeenObject(area.uuid, "p.txt", "a" * 32, _stored("a" * 32, during), 3, event_time=during)

    assert _claim(db_session, seen) == Known(CHECKSUMS)
    assert (taken.status, taken.current) == (FileStatus.CHECKSUMMED, True)
    assert _notifications(db_session, taken) == []
