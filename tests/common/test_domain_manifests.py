"""Manifest verdicts that depend on validations, and the area state machine's seal, on PostgreSQL and
SQLite; completeness announced once by concurrent recorders on PostgreSQL (the API tests drive the
checksum paths: tests/integration/test_manifests.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from support.factories import make_area, make_checksum, make_file, make_validation
from support.scratch_database import scratch_database
from support.waiting import wait_until
from upload_common.db import make_engine
from upload_common.domain.areas import set_lock, writable_area
from upload_common.domain.checksum_results import record_checksum_result
from upload_common.domain.jobs import JobReport
from upload_common.domain.manifests import ExpectedFile, expected_files, replace_manifest
from upload_common.domain.state_machines import transition_area
from upload_common.domain.validations import apply_validation_report
from upload_common.errors import AreaSealedError, IllegalTransitionError
from upload_common.models import ChecksumRun, FileVersion, Notification
from upload_common.statuses import AreaStatus, FileStatus, NotificationType, ValidationStatus

SUMS = {"sha1": "0" * 40, "sha256": "a" * 64, "crc32c": "0000000a", "s3_etag": "b" * 32}


def _flips(session: Session) -> list[str]:
    types = (NotificationType.AREA_COMPLETE, NotificationType.AREA_INCOMPLETE)
    rows = session.scalars(
        select(Notification).where(Notification.event_type.in_(types)).order_by(Notification.created_at)
    )
    return [row.event_type.value for row in rows]


def test_a_failed_validation_of_the_current_version_makes_it_invalid(db_session: Session) -> None:
    area = make_area(db_session)
    version = make_file(
        db_session, area, name="r.json", size=3, status=FileStatus.CHECKSUMMED, checksums=SUMS
    )
    replace_manifest(db_session, area, [ExpectedFile("r.json", 3, sha256="a" * 64)])
    assert [e["verdict"] for e in expected_files(db_session, area.id)] == ["verified"]
    assert (area.manifest_complete, _flips(db_session)) == (True, ["area_complete"])

    for exit_code, verdict in [(1, "invalid"), (0, "verified")]:
        validation = make_validation(db_session, [version], status=ValidationStatus.SCHEDULED)
        report = JobReport("VALIDATED", payload={"exit_code": exit_code, "stdout": ""})
        apply_validation_report(db_session, area.uuid, str(validation.id), report)
        assert [e["verdict"] for e in expected_files(db_session, area.id)] == [verdict]
    assert _flips(db_session) == ["area_complete", "area_incomplete", "area_complete"]

    # A validation that failed to run at all counts as failed too.
    validation = make_validation(db_session, [version], status=ValidationStatus.SCHEDULED)
    apply_validation_report(db_session, area.uuid, str(validation.id), JobReport("FAILED"))
    assert [e["verdict"] for e in expected_files(db_session, area.id)] == ["invalid"]


def test_a_sealed_area_is_frozen_for_good(db_session: Session) -> None:
    area = make_area(db_session, status=AreaStatus.LOCKED)
    transition_area(area, AreaStatus.SEALED)
    assert area.sealed_at is not None
    assert area.locked_at is not None
    assert area.unlocked_at is None  # a store write after the seal is one made while locked: REJECTED
    with pytest.raises(AreaSealedError):
        writable_area(db_session, area.uuid)
    with pytest.raises(AreaSealedError):
        set_lock(db_session, area.uuid, locked=False)
    set_lock(db_session, area.uuid, locked=True)  # frozen already: no change
    for status in (AreaStatus.UNLOCKED, AreaStatus.LOCKED):
        with pytest.raises(IllegalTransitionError):
            transition_area(area, status)
    assert transition_area(area, AreaStatus.DELETION_QUEUED)


@pytest.fixture(scope="module")
def committed_url(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        yield url


def test_two_last_files_recorded_at_once_announce_completeness_once(committed_url: str) -> None:
    """Each of two transactions records one of the two last files. Without taking turns each would
    see the other's file still pending (uncommitted) and neither would notify: the second waits for
    the first to commit, then sees both verified and notifies, once."""
    engine = make_engine(committed_url)
    try:
        with Session(engine) as session, session.begin():
            area = make_area(session)
            runs = {}
            for name in ("x", "y"):
                version = make_file(session, area, name=name, size=3)
                runs[name] = (version.id, make_checksum(session, version).id)
            replace_manifest(session, area, [ExpectedFile("x", 3), ExpectedFile("y", 3)])
        first = Session(engine)
        first.begin()
        _record(first, *runs["x"])  # holds the area's turn until it commits
        errors: list[BaseException] = []

        def second() -> None:
            try:
                with Session(engine) as session, session.begin():
                    _record(session, *runs["y"])
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        with engine.connect() as watcher:
            wait_until(lambda: _advisory_waiters(watcher) == 1, what="the second recorder waiting its turn")
        first.commit()
        first.close()
        thread.join(timeout=60)
        assert errors == []
        with Session(engine) as session:
            assert _flips(session) == ["area_complete"]
    finally:
        engine.dispose()


def _record(session: Session, version_id: int, run_id: uuid.UUID) -> None:
    version = session.get_one(FileVersion, version_id)
    run = session.get_one(ChecksumRun, run_id)
    record_checksum_result(session, version, run, SUMS, url="file:///x")


def _advisory_waiters(connection: Connection) -> int:
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    count: int = connection.execute(text(query)).scalar_one()
    connection.commit()
    return count
