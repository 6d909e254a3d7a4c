"""The checksum worker against real PostgreSQL and each object store: exactly one result and one
notification per file version, whatever the order and number of deliveries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from checksum.conftest import Upload
from support.checksums import reference_checksums
from upload_checksum.events import ObjectEvent
from upload_checksum.worker import Outcome, handle_record, process_object
from upload_common import messages
from upload_common.checksum_tags import checksum_tags
from upload_common.models import ChecksumRun, FileVersion, Notification, utcnow
from upload_common.service_context import ServiceContext
from upload_common.statuses import ChecksumStatus, FileStatus


def s3_event(area: str, name: str, etag: str | None = None, sequencer: str | None = None) -> str:
    """An S3 event notification body, as S3 sends it (form-encoded key, ETag and sequencer if given)."""
    return json.dumps({"Records": [s3_record(area, name, etag, sequencer)]})


def s3_record(area: str, name: str, etag: str | None = None, sequencer: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(f"{area}/{name}", safe="/"), "size": 1}
    obj |= ({"eTag": etag} if etag else {}) | ({"sequencer": sequencer} if sequencer else {})
    return {"eventName": "ObjectCreated:Put", "s3": {"object": obj}}


def counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(FileVersion)) or 0,
        session.scalar(
            select(func.count()).select_from(ChecksumRun).where(ChecksumRun.status == "CHECKSUMMED")
        )
        or 0,
        session.scalar(select(func.count()).select_from(Notification)) or 0,
    )


@pytest.mark.parametrize("name", ["r1.fastq", "dir/sub dir/ünï cødé+plus.fastq", "empty"])
def test_a_new_object_is_checksummed_tagged_and_notified(
    context: ServiceContext, area: str, upload: Upload, name: str
) -> None:
    data = b"" if name == "empty" else b"@r1\nACGT\n+\n!!!!\n" * 1000
    upload(name, data)
    assert handle_record(context, s3_event(area, name)) == [Outcome.CHECKSUMMED]
    expected = reference_checksums(data)
    with context.sessions() as session:
        version = session.scalars(select(FileVersion).where(FileVersion.name == name)).one()
        assert (version.status, version.checksums, version.origin) == (
            FileStatus.CHECKSUMMED,
            expected,
            "store",
        )
        run = session.scalars(select(ChecksumRun).where(ChecksumRun.file_id == version.id)).one()
        assert (run.status, run.job_id) == (ChecksumStatus.CHECKSUMMED, None)
        assert run.started_at is not None
        assert run.ended_at is not None
        note = session.scalars(select(Notification)).one()
        assert note.payload["checksums"] == expected
        assert (note.payload["name"], note.payload["upload_area_id"], note.payload["origin"]) == (
            name,
            area,
            "store",
        )
        assert note.payload["corrupt"] is False
    assert context.store.get_tags(f"{area}/{name}") == checksum_tags(expected, "hca-dss-")


def test_three_deliveries_in_any_order_give_one_result_and_one_notification(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    info = upload("r1.fastq", b"ACGT" * 5000)
    bodies = [
        messages.file_uploaded(area, "r1.fastq"),
        s3_event(area, "r1.fastq", info.etag),
        s3_event(area, "r1.fastq"),
    ]
    outcomes = [handle_record(context, body)[0] for body in bodies * 3]
    assert outcomes.count(Outcome.CHECKSUMMED) == 1
    assert set(outcomes) == {Outcome.CHECKSUMMED, Outcome.ALREADY_DONE}
    with context.sessions() as session:
        assert counts(session) == (1, 1, 1)


def test_an_event_for_a_replaced_version_is_aborted_without_notification(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    old = upload("r1.fastq", b"old content")
    new = upload("r1.fastq", b"new content!")
    assert handle_record(context, s3_event(area, "r1.fastq", old.etag)) == [Outcome.ABORTED]
    assert handle_record(context, s3_event(area, "r1.fastq", new.etag)) == [Outcome.CHECKSUMMED]
    assert handle_record(context, s3_event(area, "r1.fastq", old.etag)) == [Outcome.ABORTED]
    with context.sessions() as session:
        runs = session.execute(select(FileVersion.etag, ChecksumRun.status).join(ChecksumRun)).all()
        assert sorted((etag == new.etag, status) for etag, status in runs) == [
            (False, ChecksumStatus.ABORTED),
            (False, ChecksumStatus.ABORTED),
            (True, ChecksumStatus.CHECKSUMMED),
        ]
        note = session.scalars(select(Notification)).one()
        assert note.payload["checksums"] == reference_checksums(b"new content!")


def test_identical_reupload_gets_its_tags_back_without_recomputing(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    upload("a.json", b"{}")
    handle_record(context, s3_event(area, "a.json"))
    upload("a.json", b"{}")  # the same bytes again: same ETag; the store drops the tags of a new write
    context.store.put_tags(f"{area}/a.json", {"owner": "lab"})
    assert handle_record(context, s3_event(area, "a.json")) == [Outcome.RETAGGED]
    tags = context.store.get_tags(f"{area}/a.json")
    assert tags == {"owner": "lab"} | checksum_tags(reference_checksums(b"{}"), "hca-dss-")
    with context.sessions() as session:
        assert counts(session) == (1, 1, 1)


def test_forged_tags_are_never_trusted(context: ServiceContext, area: str, upload: Upload) -> None:
    upload("x.bin", b"real bytes")
    forged = {"sha1": "0" * 40, "sha256": "0" * 64, "crc32c": "00000000", "s3_etag": "0" * 32}
    context.store.put_tags(f"{area}/x.bin", checksum_tags(forged, "hca-dss-"))
    assert handle_record(context, s3_event(area, "x.bin")) == [Outcome.CHECKSUMMED]
    assert context.store.get_tags(f"{area}/x.bin") == checksum_tags(
        reference_checksums(b"real bytes"), "hca-dss-"
    )


def test_declared_crc32c_mismatch_marks_the_version_corrupt(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    upload("bad.fastq", b"ACGT", metadata={"crc32c": "deadbeef"})
    assert handle_record(context, s3_event(area, "bad.fastq")) == [Outcome.CORRUPT]
    with context.sessions() as session:
        version = session.scalars(select(FileVersion)).one()
        assert version.status == FileStatus.CORRUPT
        assert version.client_checksums == {"crc32c": "deadbeef"}
        assert session.scalars(select(Notification)).one().payload["corrupt"] is True


def test_declared_crc32c_match_without_zero_padding(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    data = b"x" * 11
    declared = reference_checksums(data)["crc32c"].lstrip("0").upper()
    upload("ok.bin", data, metadata={"crc32c": declared})
    assert handle_record(context, s3_event(area, "ok.bin")) == [Outcome.CHECKSUMMED]


def test_a_live_run_is_left_alone_and_a_stalled_one_is_taken_over(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    upload("big.bin", b"z" * 1000)
    event = ObjectEvent(area, "big.bin")
    with context.sessions.begin() as session:
        version = FileVersion(
            area_id=_area_id(session, area),
            name="big.bin",
            size=1000,
            etag=context.store.head(f"{area}/big.bin").etag,
        )
        session.add(version)
        session.flush()
        session.add(ChecksumRun(file_id=version.id, status=ChecksumStatus.CHECKSUMMING, started_at=utcnow()))
    assert process_object(context, event) == Outcome.IN_PROGRESS  # another worker's heartbeat is fresh
    with context.sessions.begin() as session:  # ... which then dies: its heartbeat goes stale
        session.execute(update(ChecksumRun).values(updated_at=utcnow() - timedelta(minutes=5)))
    assert process_object(context, event) == Outcome.CHECKSUMMED
    with context.sessions() as session:
        assert counts(session) == (1, 1, 1)


def test_objects_that_are_gone_are_ignored(context: ServiceContext, area: str) -> None:
    assert handle_record(context, s3_event(area, "never-uploaded")) == [Outcome.IGNORED]
    with context.sessions() as session:
        assert counts(session) == (0, 0, 0)


def _area_id(session: Session, area: str) -> int:
    from upload_common.models import UploadArea  # noqa: PLC0415

    return session.scalars(select(UploadArea.id).where(UploadArea.uuid == area)).one()
