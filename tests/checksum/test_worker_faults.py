"""The checksum worker under faults, on real PostgreSQL and each object store: events delivered late,
duplicated and reordered never make an older version current; objects under refused names are recorded
and notified; one bad record never drops the others; deletion wins over objects that reach an area
being deleted."""

from __future__ import annotations

import itertools
import json

import boto3
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from checksum.conftest import BUCKET, Upload
from checksum.test_worker import s3_event, s3_record
from support.checksums import reference_checksums
from upload_checksum.worker import Outcome, handle_record
from upload_common import messages
from upload_common.domain.versions import current_version
from upload_common.models import FileVersion, Notification, UploadArea
from upload_common.service_context import ServiceContext
from upload_common.statuses import FileStatus
from upload_common.storage import LocalObjectStore, ObjectInfo, ObjectStore


def sequencers(store: ObjectStore, writes: list[ObjectInfo]) -> list[str]:
    """The `sequencer` S3 would put in each write's event. The local store tells its own order; for S3
    (whose events moto does not send here) they are made up in write order, of growing length, so that
    they compare right only once left-padded: "1F" < "10F" < "100F"."""
    if isinstance(store, LocalObjectStore):
        orders = [write.store_order for write in writes]
        assert all(orders)
        return [order for order in orders if order]
    return [format(16**position + 15, "X") for position in range(1, len(writes) + 1)]


def current_of(session: Session, area: str, name: str) -> FileVersion | None:
    area_id = session.scalars(select(UploadArea.id).where(UploadArea.uuid == area)).one()
    return current_version(session, area_id, name)


def notifications(session: Session) -> list[Notification]:
    return list(session.scalars(select(Notification)))


def test_late_duplicated_and_reordered_events_never_make_an_older_version_current(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    old = upload("r1.fastq", b"old content")
    new = upload("r1.fastq", b"new content!")
    old_sequencer, new_sequencer = sequencers(context.store, [old, new])
    newer_first = [
        s3_event(area, "r1.fastq", new.etag, new_sequencer),
        messages.file_uploaded(area, "r1.fastq"),
        s3_event(area, "r1.fastq", old.etag, old_sequencer),  # late: the older version's event
    ]
    for body in newer_first * 3:
        handle_record(context, body)
    with context.sessions() as session:
        current = current_of(session, area, "r1.fastq")
        assert current is not None
        assert (current.etag, current.status) == (new.etag, FileStatus.CHECKSUMMED)
        assert current.checksums == reference_checksums(b"new content!")
        [note] = notifications(session)
        assert note.payload["checksums"] == reference_checksums(b"new content!")


def test_the_same_bytes_written_again_are_current_again_whatever_the_order_of_events(
    context: ServiceContext, area: str, upload: Upload
) -> None:
    for number, order in enumerate(itertools.permutations(range(3))):
        name = f"aba-{number}.txt"
        writes = [upload(name, b"A"), upload(name, b"BB"), upload(name, b"A")]  # A, B, A
        events = [
            s3_event(area, name, write.etag, sequencer)
            for write, sequencer in zip(writes, sequencers(context.store, writes), strict=True)
        ]
        for position in order:
            handle_record(context, events[position])
        with context.sessions() as session:
            current = current_of(session, area, name)
            assert current is not None, order
            assert (current.etag, current.status) == (writes[0].etag, FileStatus.CHECKSUMMED), order


@pytest.mark.parametrize("name", ["folder/", "a//b", "dir/./x"])
def test_an_object_under_a_refused_name_is_recorded_and_notified_once(
    context: ServiceContext, area: str, name: str
) -> None:
    body = s3_event(area, name, "0123456789abcdef0123456789abcdef")
    assert handle_record(context, body) == [Outcome.REJECTED]
    assert handle_record(context, body) == [Outcome.ALREADY_DONE]  # redelivered: nothing new
    with context.sessions() as session:
        [version] = session.scalars(select(FileVersion)).all()
        assert (version.name, version.status, version.current, version.size) == (
            name,
            FileStatus.REJECTED,
            False,
            1,
        )
        assert version.reason
        [note] = notifications(session)
        assert (note.payload["status"], note.payload["reason"]) == ("REJECTED", version.reason)
        assert note.payload["url"] == f"{context.store.url}/{area}/{name}"
        assert current_of(session, area, name) is None  # not a file of the area: not listed or counted


def test_one_bad_record_never_drops_the_others(context: ServiceContext, area: str, upload: Upload) -> None:
    upload("good.txt", b"good")
    body = json.dumps(
        {
            "Records": [
                {"eventName": "ObjectCreated:Put", "s3": {}},
                s3_record("not-an-area", "x"),
                s3_record(area, "bad//name", "0123456789abcdef0123456789abcdef"),
                s3_record(area, "good.txt"),
            ]
        }
    )
    assert handle_record(context, body) == [
        Outcome.DROPPED,
        Outcome.DROPPED,
        Outcome.REJECTED,
        Outcome.CHECKSUMMED,
    ]
    assert handle_record(context, body) == [
        Outcome.DROPPED,
        Outcome.DROPPED,
        Outcome.ALREADY_DONE,
        Outcome.ALREADY_DONE,
    ]
    with context.sessions() as session:
        assert sorted(n.payload["status"] for n in notifications(session)) == ["CHECKSUMMED", "REJECTED"]


@pytest.mark.parametrize("status", ["DELETION_QUEUED", "DELETING", "DELETED"])
def test_deletion_wins_over_an_object_that_reaches_an_area_being_deleted(
    context: ServiceContext, area: str, upload: Upload, status: str
) -> None:
    late = upload("late.bin", b"written with credentials issued before the deletion")
    keys = [f"{area}/late.bin"]
    if not isinstance(context.store, LocalObjectStore):  # S3 also holds names the service refuses
        boto3.client("s3", region_name="us-east-1").put_object(Bucket=BUCKET, Key=f"{area}/folder/", Body=b"")
        keys.append(f"{area}/folder/")
    with context.sessions.begin() as session:
        session.execute(update(UploadArea).where(UploadArea.uuid == area).values(status=status))

    bodies = [s3_event(area, key.partition("/")[2], late.etag) for key in keys]
    assert [handle_record(context, body) for body in bodies] == [[Outcome.REMOVED]] * len(keys)
    assert list(context.store.list(f"{area}/")) == []
    again = [handle_record(context, body)[0] for body in bodies]
    # Redelivered: nothing is left; a refused name is never HEADed, so it is deleted again (a no-op).
    assert again == [Outcome.IGNORED, Outcome.REMOVED][: len(keys)]
    with context.sessions() as session:
        versions = session.scalars(select(FileVersion).order_by(FileVersion.name)).all()
        assert [(v.name, v.status, v.current) for v in versions] == [
            (key.partition("/")[2], FileStatus.DELETED, False) for key in sorted(keys)
        ]
        assert all(v.reason and "after its deletion began" in v.reason for v in versions)
        assert notifications(session) == []
