"""Faults in AWS mode: S3, SQS and STS on a moto server; the stack's processes as on the embedded default."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from faults.conftest import FAST
from faults.harness import (
    CONTENT_TYPE,
    check_notifications,
    file_notifications,
    new_area,
    put_racing_delete,
    record,
    s3_event,
    settled,
    versions,
)
from integration.stack import (
    ACCOUNT,
    BUCKET,
    PREFIX,
    Stack,
    aws_environment,
    client,
    provision,
    submitter_client,
)
from support.checksums import reference_checksums
from support.ingest_server import FakeIngest
from support.moto_server import moto_process
from support.waiting import wait_until

pytestmark = pytest.mark.slow

EARLY = "0000000000000001"  # S3 sequencers: later writes of a key have greater values (left-padded)
LATE = "FFFFFFFFFFFFFFFF00"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_process() as server:
        yield server.url


@pytest.fixture(scope="module")
def aws_stack(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, ingest: FakeIngest
) -> Iterator[Stack]:
    role = provision(moto_endpoint)
    stack = Stack(
        tmp_path_factory.mktemp("faults-aws"),
        ingest.environment() | aws_environment(moto_endpoint, role) | FAST,
    )
    stack.migrate()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def s3(endpoint: str) -> Any:
    return client("s3", endpoint)


def put(endpoint: str, area: str, name: str, data: bytes) -> str:
    """Write straight to S3 (S3 sends its own event to the checksum queue); returns the ETag."""
    answer = s3(endpoint).put_object(Bucket=BUCKET, Key=f"{area}/{name}", Body=data, ContentType=CONTENT_TYPE)
    return str(answer["ETag"]).strip('"')


def empty(endpoint: str, area: str) -> bool:
    """No object of the area is left in the bucket."""
    return s3(endpoint).list_objects_v2(Bucket=BUCKET, Prefix=f"{area}/").get("KeyCount", 0) == 0


def send_events(endpoint: str, bodies: list[str]) -> None:
    queue = f"{endpoint}/{ACCOUNT}/{PREFIX}-checksum"
    sqs = client("sqs", endpoint)
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body)


def test_s3_events_duplicated_reordered_and_late(
    aws_stack: Stack, moto_endpoint: str, ingest: FakeIngest
) -> None:
    area = new_area(aws_stack)
    rng = random.Random(31)  # noqa: S311 - a fixed shuffle, the same case every run
    a_data, b_data = b"A: the first version", b"B: the second version, longer"
    a = put(moto_endpoint, area, "a.txt", a_data)
    wait_until(settled(aws_stack, area, 1), timeout=120, what="version A checksummed")
    b = put(moto_endpoint, area, "a.txt", b_data)
    c = put(moto_endpoint, area, "b.txt", b"C")
    d = put(moto_endpoint, area, "b.txt", b"D: written right after C")
    bodies = [s3_event(area, "a.txt", a, len(a_data), EARLY)] * 3 + [
        s3_event(area, "a.txt", b, len(b_data), LATE)
    ] * 3
    bodies += [s3_event(area, "b.txt", c, 1, EARLY)] * 3 + [s3_event(area, "b.txt", d, 24, LATE)] * 3
    rng.shuffle(bodies)
    send_events(moto_endpoint, bodies)

    states = wait_until(settled(aws_stack, area, 4), timeout=180, what="every version settled")
    by_etag = {s.etag: s for s in states}
    assert (by_etag[a].status, by_etag[a].current) == ("CHECKSUMMED", False)
    assert (by_etag[b].status, by_etag[b].current) == ("CHECKSUMMED", True)
    assert (by_etag[d].status, by_etag[d].current) == ("CHECKSUMMED", True)
    # C was replaced at once: checksummed if S3's own event reached a worker before D was written,
    # else aborted; never current either way.
    assert by_etag[c].current is False
    assert (by_etag[c].status, by_etag[c].last_run) in (
        ("CHECKSUMMED", "CHECKSUMMED"),
        ("UPLOADED", "ABORTED"),
    )
    with aws_stack.client() as api:
        assert api.get(f"/v1/area/{area}/a.txt").json()["checksums"] == reference_checksums(b_data)
    notified = check_notifications(ingest, area, states)
    record(
        "S3 events x3, reordered, late, with sequencers (AWS)",
        f"{len(bodies)} + 4 S3 events for 4 versions",
        states,
        notified,
    )


def test_refused_names_are_recorded_and_notified(
    aws_stack: Stack, moto_endpoint: str, ingest: FakeIngest
) -> None:
    area = new_area(aws_stack)
    for key in (f"{area}/folder/", f"{area}/a//b"):
        s3(moto_endpoint).put_object(Bucket=BUCKET, Key=key, Body=b"")
    good = put(moto_endpoint, area, "good.txt", b"fine")
    # One message whose first record can never be processed: the others in it are not dropped.
    mixed = s3_event(area, "good.txt", good, 4).replace(
        '"Records": [', '"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}, ', 1
    )
    send_events(moto_endpoint, [mixed, mixed])

    states = wait_until(settled(aws_stack, area, 3), timeout=120, what="the refused and the good versions")
    statuses = sorted((s.name, s.status) for s in states)
    assert statuses == [("a//b", "REJECTED"), ("folder/", "REJECTED"), ("good.txt", "CHECKSUMMED")], statuses
    notified = check_notifications(ingest, area, states)
    assert notified == 3
    with aws_stack.client() as api:
        listed = api.get(f"/v1/area/{area}/files").json()["files"]
    assert [f["name"] for f in listed] == ["good.txt"]
    record(
        "refused names + a bad record in a message (AWS)",
        "2 refused keys, 2 messages with a bad record",
        states,
        notified,
    )


def test_objects_written_after_deletion_are_removed(aws_stack: Stack, moto_endpoint: str) -> None:
    area = new_area(aws_stack)
    with aws_stack.client() as api:
        credentials = api.post(f"/v1/area/{area}/credentials").json()
        put(moto_endpoint, area, "before.txt", b"written before the deletion")
        assert api.delete(f"/v1/area/{area}").status_code == 202
        wait_until(
            lambda: api.head(f"/v1/area/{area}").status_code == 404, timeout=120, what="the area deleted"
        )
    # Credentials issued before the deletion still work on S3 for up to their lifetime.
    submitter = submitter_client(moto_endpoint, credentials)
    submitter.put_object(Bucket=BUCKET, Key=f"{area}/late.txt", Body=b"written after the deletion")

    wait_until(lambda: empty(moto_endpoint, area), timeout=120, what="the late object removed")
    record(
        "object written with old credentials after DELETE (AWS)",
        "1 late PutObject",
        versions(aws_stack, area),
        0,
    )


def test_objects_written_with_old_credentials_while_the_area_is_locked_are_rejected_and_notified(
    aws_stack: Stack, moto_endpoint: str, ingest: FakeIngest
) -> None:
    area = new_area(aws_stack)
    with aws_stack.client() as api:
        credentials = api.post(f"/v1/area/{area}/credentials").json()
        submitter = submitter_client(moto_endpoint, credentials)
        submitter.put_object(Bucket=BUCKET, Key=f"{area}/kept.txt", Body=b"before the lock")
        wait_until(settled(aws_stack, area, 1), timeout=120, what="the file written before the lock")
        assert api.post(f"/v1/area/{area}/lock").status_code == 204
        assert api.post(f"/v1/area/{area}/credentials").status_code == 409  # no refresh while locked
        # Credentials issued before the lock still work on S3 until they expire.
        submitter.put_object(Bucket=BUCKET, Key=f"{area}/new.txt", Body=b"written under the lock")
        submitter.put_object(Bucket=BUCKET, Key=f"{area}/kept.txt", Body=b"replaced under the lock")

        states = wait_until(settled(aws_stack, area, 3), timeout=120, what="the writes under the lock")
        by_name = {(s.name, s.status): s for s in states}
        assert set(by_name) == {
            ("kept.txt", "CHECKSUMMED"),
            ("kept.txt", "REJECTED"),
            ("new.txt", "REJECTED"),
        }
        assert not any(s.current for s in states)  # the store holds none of the good bytes now
        assert api.get(f"/v1/area/{area}/files").json()["files"] == []
        notified = check_notifications(ingest, area, states)
        rejections = [
            body
            for bodies in file_notifications(ingest, area).values()
            for body in bodies[:1]
            if body["status"] == "REJECTED"
        ]
        assert sorted(body["name"] for body in rejections) == ["kept.txt", "new.txt"]
        assert {body["reason"] for body in rejections} == {"written while the area was locked"}

        # After the unlock the submitter refreshes its credentials and uploads the same bytes again.
        assert api.delete(f"/v1/area/{area}/lock").status_code == 204
        refreshed = submitter_client(moto_endpoint, api.post(f"/v1/area/{area}/credentials").json())
        refreshed.put_object(Bucket=BUCKET, Key=f"{area}/new.txt", Body=b"written under the lock")
        wait_until(
            lambda: (
                [f["name"] for f in api.get(f"/v1/area/{area}/files").json()["files"]] == ["new.txt"]
                and settled(aws_stack, area, 3)()
            ),
            timeout=120,
            what="the same bytes taken after the unlock",
        )
    record(
        "objects written with old credentials while LOCKED (AWS)",
        "1 new and 1 replacing PutObject under the lock, 1 again after the unlock",
        versions(aws_stack, area),
        notified,
    )


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_put_racing_delete_leaves_nothing_on_s3(aws_stack: Stack, moto_endpoint: str, attempt: int) -> None:
    area = new_area(aws_stack)
    status = put_racing_delete(aws_stack, area)
    wait_until(lambda: empty(moto_endpoint, area), timeout=120, what="no object left on S3")
    record(
        f"PUT (40 MiB) racing DELETE, try {attempt} (AWS)",
        f"PUT answered {status}",
        versions(aws_stack, area),
        0,
    )
