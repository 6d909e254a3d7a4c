"""Faults against the embedded default: local store, SQLite, the database queue, as real processes."""

from __future__ import annotations

import io
import json
import os
import random
import socket
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

from faults.harness import CONTENT_TYPE as FILE_CONTENT_TYPE
from faults.harness import (
    MIB,
    check_notifications,
    database_url,
    new_area,
    put_racing_delete,
    record,
    s3_event,
    settled,
    store_root,
    versions,
)
from integration.stack import Stack
from support.checksums import reference_checksums
from support.ingest_server import FakeIngest
from support.waiting import wait_until
from upload_common.db import make_engine
from upload_common.queues import open_queue
from upload_common.settings import Settings
from upload_common.storage import LocalObjectStore, ObjectInfo

pytestmark = pytest.mark.slow

CONTENT_TYPE = {"Content-Type": FILE_CONTENT_TYPE}


def send_all(stack: Stack, bodies: list[str]) -> None:
    """Put messages on the stack's checksum queue (its database), as the events of a store would."""
    url = database_url(stack)
    engine = make_engine(url)
    try:
        open_queue(Settings(database_url=url), engine, "checksum").send_batch(bodies)
    finally:
        engine.dispose()


def put_direct(stack: Stack, area: str, name: str, data: bytes) -> ObjectInfo:
    """Write straight into the store, bypassing the API (no event is sent by this)."""
    store = LocalObjectStore(store_root(stack))
    return store.put(
        f"{area}/{name}", io.BytesIO(data), size=len(data), content_type=CONTENT_TYPE["Content-Type"]
    )


def test_events_duplicated_reordered_and_late(embedded: Stack, ingest: FakeIngest) -> None:
    area = new_area(embedded)
    rng = random.Random(13)  # noqa: S311 - a fixed shuffle, the same case every run
    a = put_direct(embedded, area, "a.txt", b"version A of a")
    send_all(embedded, [s3_event(area, "a.txt", a.etag, a.size)] * 3)
    wait_until(settled(embedded, area, 1), timeout=120, what="version A checksummed")
    b = put_direct(embedded, area, "a.txt", b"version B of a.txt, longer")
    c = put_direct(embedded, area, "b.txt", b"version C of b")
    d = put_direct(embedded, area, "b.txt", b"version D of b.txt, longer")
    uploaded = [{"type": "file_uploaded", "area_uuid": area, "name": name} for name in ("a.txt", "b.txt")]
    bodies = [s3_event(area, "a.txt", b.etag, b.size)] * 3 + [s3_event(area, "a.txt", a.etag, a.size)] * 2
    bodies += [s3_event(area, "b.txt", c.etag, c.size)] * 3 + [s3_event(area, "b.txt", d.etag, d.size)] * 3
    bodies += [json.dumps(message) for message in uploaded]
    rng.shuffle(bodies)
    send_all(embedded, bodies)

    states = wait_until(settled(embedded, area, 4), timeout=120, what="every version settled")
    by_etag = {s.etag: s for s in states}
    assert (by_etag[a.etag].status, by_etag[a.etag].current) == ("CHECKSUMMED", False)
    assert (by_etag[b.etag].status, by_etag[b.etag].current) == ("CHECKSUMMED", True)
    assert by_etag[c.etag].current is False
    assert by_etag[c.etag].status == "UPLOADED"
    assert by_etag[c.etag].last_run == "ABORTED"  # replaced before it was read: the newer one is notified
    assert (by_etag[d.etag].status, by_etag[d.etag].current) == ("CHECKSUMMED", True)
    notified = check_notifications(ingest, area, states)
    with embedded.client() as api:
        assert api.get(f"/v1/area/{area}/a.txt").json()["checksums"] == reference_checksums(
            b"version B of a.txt, longer"
        )
        assert api.get(f"/v1/area/{area}/checksums").json()["CHECKSUMMED"] == 2
    record(
        "events x3, reordered, late (embedded)", f"{len(bodies) + 3} events for 4 versions", states, notified
    )


def test_processes_killed_at_random_points_lose_nothing(embedded: Stack, ingest: FakeIngest) -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible kill points, not a secret
    area = new_area(embedded)
    payloads = {f"kill/{i}.bin": os.urandom(4 * MIB) + bytes([i]) for i in range(6)}
    for name, data in payloads.items():
        put_direct(embedded, area, name, data)
    kills = 0
    for _round in range(3):
        with embedded.client() as api:
            for name in payloads:
                assert api.post(f"/v1/area/{area}/{quote(name, safe='')}").status_code in (200, 202, 204)
        # The fault: every process dies at a point the seed picks (before, during or after checksumming).
        # Nothing below depends on where that falls: the final state must be the same whatever it is.
        threading.Event().wait(rng.uniform(0.0, 1.5))
        embedded.stop(kill=True)
        kills += 1
        embedded.start()
    states = wait_until(
        settled(embedded, area, len(payloads)), timeout=180, what="every version after the kills"
    )
    assert all(s.status == "CHECKSUMMED" and s.current for s in states), states
    with embedded.client() as api:
        for name, data in payloads.items():
            assert api.get(f"/v1/area/{area}/{quote(name, safe='')}").json()[
                "checksums"
            ] == reference_checksums(data)
    notified = check_notifications(ingest, area, states)
    record(
        "SIGKILL of every process x3 at random points (embedded)",
        f"{kills} kills, 18 events",
        states,
        notified,
    )


def test_ingest_down_then_back(embedded: Stack, ingest: FakeIngest) -> None:
    area = new_area(embedded)
    ingest.stop()
    try:
        with embedded.client() as api:
            for i in range(3):
                response = api.put(
                    f"/v1/area/{area}/down-{i}.txt", content=f"file {i}".encode(), headers=CONTENT_TYPE
                )
                assert response.status_code == 201, response.text
        wait_until(lambda: _attempted(embedded), timeout=120, what="a delivery attempt while ingest is down")
    finally:
        ingest.start()
    states = wait_until(settled(embedded, area, 3), timeout=60, what="three versions")
    notified = check_notifications(ingest, area, states)
    assert notified == 3
    record(
        "ingest down, then back (embedded)", "3 uploads while ingest refused connections", states, notified
    )


def _attempted(stack: Stack) -> bool:
    from sqlalchemy import select  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from upload_common.models import Notification  # noqa: PLC0415

    engine = make_engine(database_url(stack))
    try:
        with Session(engine) as session:
            return bool(
                session.scalars(
                    select(Notification).where(
                        Notification.attempts > 0, Notification.last_error.is_not(None)
                    )
                ).first()
            )
    finally:
        engine.dispose()


def test_cut_off_upload_changes_nothing(embedded: Stack, ingest: FakeIngest) -> None:
    area = new_area(embedded)
    good = b"the good version\n"
    with embedded.client() as api:
        assert api.put(f"/v1/area/{area}/cut.txt", content=good, headers=CONTENT_TYPE).status_code == 201
    for _attempt in range(3):
        _chunked_put_cut_off(embedded, f"/v1/area/{area}/cut.txt", [b"x" * 65536] * 8)
    states = wait_until(settled(embedded, area, 1), timeout=60, what="the good version")
    assert [(s.status, s.current) for s in states] == [("CHECKSUMMED", True)]
    with embedded.client() as api:
        assert api.get(f"/v1/area/{area}/cut.txt").json()["checksums"] == reference_checksums(good)
    assert (store_root(embedded) / area / "cut.txt").read_bytes() == good
    assert not list((store_root(embedded) / ".upload-store" / "tmp").iterdir()), "temporary files left"
    notified = check_notifications(ingest, area, states)
    record("chunked PUT cut off before its last chunk x3 (embedded)", "3 cut-off uploads", states, notified)


def _chunked_put_cut_off(stack: Stack, path: str, chunks: list[bytes]) -> None:
    """Send a chunked PUT and close the connection before the final zero-length chunk."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as sock:
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nApi-Key: {stack.api_key}\r\n"
            f"Content-Type: {CONTENT_TYPE['Content-Type']}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        for chunk in chunks:
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        sock.shutdown(socket.SHUT_WR)  # no "0\r\n\r\n": the body never ended
        sock.settimeout(30)
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_put_racing_delete_leaves_nothing(embedded: Stack, attempt: int) -> None:
    area = new_area(embedded)
    status = put_racing_delete(embedded, area)
    wait_until(lambda: not _objects_of(store_root(embedded) / area), timeout=120, what="no object left")
    record(
        f"PUT (40 MiB) racing DELETE, try {attempt} (embedded)",
        f"PUT answered {status}",
        versions(embedded, area),
        0,
        lost=0,
    )


def _objects_of(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()] if directory.exists() else []
