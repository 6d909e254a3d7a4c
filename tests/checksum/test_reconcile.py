"""Reconciliation (issue 13, case 10): objects whose events were lost are found and queued, exactly the
unprocessed ones; stored bytes are re-verified against the recorded checksums; memory stays bounded."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from moto.s3.models import s3_backends
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from checksum.conftest import BUCKET, Upload
from checksum.test_worker import s3_event
from support.api_helpers import drain
from support.factories import make_area, make_checksum, make_file
from upload_checksum import lambda_handlers as lambda_entry
from upload_checksum.cli import main
from upload_checksum.reconcile import classify_listing, reconcile
from upload_checksum.worker import Outcome, handle_record
from upload_common import messages
from upload_common.db import upgrade
from upload_common.domain.areas import find_area
from upload_common.domain.reconciliation import Pending
from upload_common.errors import AreaNotFoundError, InvalidInputError
from upload_common.models import FileVersion, utcnow
from upload_common.queues import MessageQueue
from upload_common.service_context import ServiceContext, build_service_context
from upload_common.settings import Settings, load_settings
from upload_common.statuses import AreaStatus, ChecksumStatus, FileStatus
from upload_common.storage import LocalObjectStore, ObjectInfo, ObjectStore


def queued_names(queue: MessageQueue) -> set[tuple[str, str]]:
    return {(data["area_uuid"], data["name"]) for data in map(json.loads, drain(queue))}


def rot(store: ObjectStore, key: str, data: bytes) -> None:
    """Change an object's bytes behind the service's back without the store noticing (same size,
    same ETag): the bit rot that only re-reading the bytes finds."""
    if isinstance(store, LocalObjectStore):
        path = Path(unquote(urlparse(store.object_url(key)).path))
        status = path.stat()
        with path.open("r+b") as handle:
            handle.write(data)
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))  # the record still describes it
    else:  # moto keeps the ETag it computed when the object was written
        fake = s3_backends["123456789012"]["aws"].get_object(BUCKET, key)
        assert fake is not None
        fake.value = data  # type: ignore[misc]  # a setter that moto's annotations miss


def test_objects_written_without_an_event_are_queued_once_then_recorded(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    upload("seen.fastq", b"seen")
    assert handle_record(context, s3_event(area, "seen.fastq")) == [Outcome.CHECKSUMMED]
    for name in ("lost-1.fastq", "dir/lost 2.fastq", "lost-3.fastq"):  # their events never arrived
        upload(name, name.encode())

    report = reconcile(context, area_uuid=area)

    assert (report.areas, report.objects_listed, report.versions_queued) == (1, 4, 3)
    assert report.never_recorded == 3
    bodies = drain(context.queue("checksum"))
    assert sorted(bodies) == sorted(
        messages.file_uploaded(area, name) for name in ("lost-1.fastq", "dir/lost 2.fastq", "lost-3.fastq")
    )
    for body in bodies:
        assert handle_record(context, body) == [Outcome.CHECKSUMMED]
    with context.sessions() as session:
        statuses = session.scalars(select(FileVersion.status)).all()
    assert statuses == [FileStatus.CHECKSUMMED] * 4
    again = reconcile(context, area_uuid=area)
    assert (again.objects_listed, again.versions_queued) == (4, 0)
    assert drain(context.queue("checksum")) == []


def test_every_processed_area_is_reconciled_and_areas_being_deleted_are_not(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    with context.sessions.begin() as session:
        locked = make_area(session, status=AreaStatus.LOCKED).uuid
        deleting = make_area(session, status=AreaStatus.DELETION_QUEUED).uuid
    upload("a", b"a")
    for other in (locked, deleting):
        context.store.put(f"{other}/b", io.BytesIO(b"b"), size=1)

    report = reconcile(context)

    assert queued_names(context.queue("checksum")) == {(area, "a"), (locked, "b")}
    assert report.areas >= 2  # others' committed areas may exist in the database; their prefixes are empty
    with pytest.raises(AreaNotFoundError, match=deleting):
        reconcile(context, area_uuid=deleting)


def test_only_versions_never_finished_and_not_in_progress_are_queued(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    stale = utcnow() - timedelta(hours=1)
    # name: (version status, latest run status, job id, heartbeat) -> queued?
    cases: dict[str, tuple[FileStatus, ChecksumStatus | None, str | None, Any, bool]] = {
        "never-run": (FileStatus.UPLOADED, None, None, None, True),
        "aborted": (FileStatus.UPLOADED, ChecksumStatus.ABORTED, None, None, True),
        "stalled": (FileStatus.UPLOADED, ChecksumStatus.CHECKSUMMING, None, stale, True),
        "lost-message": (FileStatus.UPLOADED, ChecksumStatus.SCHEDULED, None, stale, True),
        "live": (FileStatus.UPLOADED, ChecksumStatus.CHECKSUMMING, None, None, False),
        "just-scheduled": (FileStatus.UPLOADED, ChecksumStatus.SCHEDULED, None, None, False),
        "job": (FileStatus.UPLOADED, ChecksumStatus.SCHEDULED, "job-1", stale, False),
        "failed": (FileStatus.UPLOADED, ChecksumStatus.FAILED, None, None, False),
        "done": (FileStatus.CHECKSUMMED, ChecksumStatus.CHECKSUMMED, None, None, False),
        "corrupt": (FileStatus.CORRUPT, ChecksumStatus.CHECKSUMMED, None, None, False),
        "rejected": (FileStatus.REJECTED, None, None, None, False),
    }
    with context.sessions.begin() as session:
        row = find_area(session, area)
        assert row is not None
        for name, (status, run_status, job_id, heartbeat, _) in cases.items():
            etag = upload(name, name.encode()).etag
            version = make_file(session, row, name=name, etag=etag, status=status, current=True)
            if run_status is not None:
                fields = {"updated_at": heartbeat} if heartbeat else {}
                make_checksum(session, version, status=run_status, job_id=job_id, **fields)
        # A replaced version: only the old ETag is recorded, the stored one is new.
        make_file(session, row, name="replaced", etag="0" * 32, status=FileStatus.CHECKSUMMED)
    upload("replaced", b"new bytes")

    report = reconcile(context, area_uuid=area)

    expected = {name for name, case in cases.items() if case[-1]} | {"replaced"}
    assert queued_names(context.queue("checksum")) == {(area, name) for name in expected}
    assert (report.never_recorded, report.never_finished) == (1, 4)


def test_bytes_stored_again_without_an_event_become_current_again(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    for content in (b"version A", b"version B"):
        upload("f", content)
        assert handle_record(context, s3_event(area, "f")) == [Outcome.CHECKSUMMED]
    upload("f", b"version A")  # A again: a version the database knows, but B is current; event lost

    report = reconcile(context, area_uuid=area)

    assert (report.not_current, report.versions_queued) == (1, 1)
    [body] = drain(context.queue("checksum"))
    assert handle_record(context, body) in ([Outcome.RETAGGED], [Outcome.ALREADY_DONE])
    assert reconcile(context, area_uuid=area).versions_queued == 0


def test_a_dry_run_reports_and_queues_nothing(context: ServiceContext, area: str, upload: Upload) -> None:
    upload("lost", b"lost")
    report = reconcile(context, area_uuid=area, dry_run=True)
    assert (report.dry_run, report.versions_queued) == (True, 1)
    assert "1 versions would be queued" in report.summary()
    assert drain(context.queue("checksum")) == []


def test_verification_finds_bytes_changed_behind_the_services_back(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    for name in ("good-1", "good-2", "rotten"):
        upload(name, f"{name} content".encode())
        assert handle_record(context, s3_event(area, name)) == [Outcome.CHECKSUMMED]
    rot(context.store, f"{area}/rotten", b"ROTTEN content")

    report = reconcile(context, area_uuid=area, verify_sample=3)

    assert (report.verified, report.mismatched, report.not_verified) == (3, 1, 0)
    assert report.mismatches == [f"{area}/rotten"]
    assert report.versions_queued == 0  # same ETag: the store never noticed
    assert json.loads(json.dumps(report.as_dict()))["mismatches"] == [f"{area}/rotten"]


def test_a_replaced_object_is_a_new_version_not_a_mismatch(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    upload("f", b"version one")
    assert handle_record(context, s3_event(area, "f")) == [Outcome.CHECKSUMMED]
    upload("f", b"version two, event lost")
    report = reconcile(context, area_uuid=area, verify_sample=1)
    assert (report.never_recorded, report.verified, report.mismatched, report.not_verified) == (1, 0, 0, 1)


def test_a_fraction_samples_that_share_and_a_bad_sample_is_refused(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    for index in range(4):
        upload(f"f{index}", b"x" * index)
        assert handle_record(context, s3_event(area, f"f{index}")) == [Outcome.CHECKSUMMED]
    assert reconcile(context, area_uuid=area, verify_sample=0.5).verified == 2
    for bad in (-1, 1.5):
        with pytest.raises(InvalidInputError, match="verification sample"):
            reconcile(context, area_uuid=area, verify_sample=bad)


def test_the_lambda_handler_reconciles_on_schedule(
    context: ServiceContext, area: str, upload: Upload, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_entry, "_context", lambda: context)
    upload("lost", b"lost")
    scheduled_event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    result = lambda_entry.reconcile_handler(scheduled_event, None)
    assert (result["versions_queued"], result["verified"]) == (1, 0)
    assert queued_names(context.queue("checksum")) == {(area, "lost")}


def test_the_reconcile_function_starts_without_a_job_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Terraform gives the reconcile function the Batch runner's setting but no job queue (it submits no
    # job): its handler must not build a job runner, which would refuse to start without one.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPLOAD_JOB_RUNNER", "aws-batch")
    monkeypatch.delenv("UPLOAD_BATCH_JOB_QUEUE", raising=False)
    lambda_entry._context.cache_clear()
    try:
        upgrade(lambda_entry._context().settings.database_url)
        result = lambda_entry.reconcile_handler({"dry_run": True}, None)
    finally:
        lambda_entry._context.cache_clear()
    assert (result["areas"], result["versions_queued"]) == (0, 0)


def test_the_command_on_the_embedded_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no setting at all: SQLite, local store and queue under ./var
    context = build_service_context(load_settings(Settings))
    upgrade(context.settings.database_url)
    with context.sessions.begin() as session:
        area = make_area(session).uuid
    context.store.put(f"{area}/lost.txt", io.BytesIO(b"lost"), size=4)

    assert main(["reconcile", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["versions_queued"] == 1
    [body] = drain(context.queue("checksum"))
    assert handle_record(context, body) == [Outcome.CHECKSUMMED]
    rot(context.store, f"{area}/lost.txt", b"LOST")

    assert main(["reconcile", "--area", area, "--verify-sample", "1"]) == 1
    assert "0 versions queued" in capsys.readouterr().out
    assert main(["reconcile", "--verify-sample", "1.5"]) == 2
    assert main(["reconcile", "--area", str(uuid.uuid4())]) == 2


@pytest.mark.slow  # 100 database pages, traced allocations: about ten seconds
def test_memory_stays_bounded_over_100k_objects(pg_sessions: sessionmaker[Session]) -> None:
    """100,000 recorded versions against a listing of 100,000 objects (a generator, as the store's
    pages are): the right ones are pending, and neither side is ever held whole."""
    count = 100_000
    checked_at = utcnow()  # the live runs' heartbeat, and the time they are judged at
    with pg_sessions.begin() as session:
        area = make_area(session)
        area_id = area.id
        _insert_versions(session, area_id, count, heartbeat=checked_at)

    def listing() -> Iterator[ObjectInfo]:
        for index in range(count):
            etag = "never-recorded" if index % 50 == 0 else f"e{index}"
            yield ObjectInfo(key=f"{area.uuid}/n{index:06d}", size=1, etag=etag, last_modified=checked_at)

    tracemalloc.start()
    try:
        pending = [
            (name, reason)
            for name, reason in classify_listing(
                pg_sessions, area_id, listing(), stale_after=timedelta(minutes=1), now=checked_at
            )
            if reason is not None
        ]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = [
        (f"n{index:06d}", Pending.NEVER_RECORDED if index % 50 == 0 else Pending.NEVER_FINISHED)
        for index in range(count)
        if index % 50 in (0, 1)
    ]
    assert pending == expected
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def _insert_versions(session: Session, area_id: int, count: int, *, heartbeat: datetime) -> None:
    """Versions n000000…: every 50th (from 1) UPLOADED without a run, every 50th (from 2) being
    checksummed by a live run, the rest CHECKSUMMED; bulk SQL, as 100k ORM rows would take long."""
    session.execute(
        text(
            "INSERT INTO file (area_id, name, size, etag, status, origin, current, created_at, updated_at)"
            " SELECT :area_id, 'n' || lpad(i::text, 6, '0'), 1, 'e' || i,"
            " CASE WHEN i % 50 IN (1, 2) THEN 'UPLOADED' ELSE 'CHECKSUMMED' END, 'store', true, now(), now()"
            " FROM generate_series(0, :last) AS i"
        ),
        {"area_id": area_id, "last": count - 1},
    )
    session.execute(
        text(
            "INSERT INTO checksum (id, file_id, status, created_at, updated_at)"
            " SELECT gen_random_uuid(), id, 'CHECKSUMMING', :heartbeat, :heartbeat FROM file"
            " WHERE area_id = :area_id AND status = 'UPLOADED' AND right(name, 2)::int % 50 = 2"
        ),
        {"area_id": area_id, "heartbeat": heartbeat},
    )
