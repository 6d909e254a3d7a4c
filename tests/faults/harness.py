"""What every fault case checks, and the table the suite prints at its end.

A case injects faults into the real stack (processes over the Procfile, a stand-in ingest), waits for
the system to settle, then reads the final state of every file version of its area straight from the
service's database and the notifications ingest accepted. Every version must be in the state the case
expects, every notified version notified under exactly one id, and nothing lost.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.stack import Stack
from support.ingest_server import FakeIngest
from support.waiting import wait_until
from upload_common.db import make_engine
from upload_common.models import ChecksumRun, FileVersion, UploadArea

FILE_UPLOADED_PATH = "/messaging/fileUploadInfo"
CONTENT_TYPE = "application/octet-stream; dcp-type=data"
MIB = 1024 * 1024
NOTIFIED = frozenset({"CHECKSUMMED", "CORRUPT", "REJECTED"})


@dataclass(frozen=True)
class VersionState:
    name: str
    etag: str
    status: str  # the version's FileStatus
    current: bool
    last_run: str | None  # the status of its newest checksum run


@dataclass
class CaseRow:
    case: str
    injected: str
    final: list[str] = field(default_factory=list)
    notifications: int = 0
    lost: int = 0


ROWS: list[CaseRow] = []


def database_url(stack: Stack) -> str:
    return stack.environment.get("UPLOAD_DATABASE_URL") or f"sqlite:///{stack.workdir / 'var' / 'upload.db'}"


def versions(stack: Stack, area: str) -> list[VersionState]:
    """Every recorded version of the area's files, read from the service's database."""
    engine = make_engine(database_url(stack))
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(FileVersion)
                .join(UploadArea, FileVersion.area_id == UploadArea.id)
                .where(UploadArea.uuid == area)
                .order_by(FileVersion.name, FileVersion.id)
            ).scalars()
            states = []
            for version in rows:
                run = session.scalars(
                    select(ChecksumRun.status)
                    .where(ChecksumRun.file_id == version.id)
                    .order_by(ChecksumRun.created_at.desc(), ChecksumRun.id.desc())
                    .limit(1)
                ).first()
                states.append(
                    VersionState(
                        version.name,
                        version.etag,
                        version.status.value,
                        version.current,
                        run.value if run is not None else None,
                    )
                )
            return states
    finally:
        engine.dispose()


def settled(stack: Stack, area: str, expected: int) -> Callable[[], list[VersionState] | None]:
    """A condition: the area has `expected` versions and none is still waiting for its checksums."""

    def check() -> list[VersionState] | None:
        states = versions(stack, area)
        busy = [
            s
            for s in states
            if s.last_run in ("SCHEDULED", "CHECKSUMMING") or (s.current and s.status == "UPLOADED")
        ]
        return states if len(states) == expected and not busy else None

    return check


def file_notifications(ingest: FakeIngest, area: str) -> dict[str, list[dict[str, Any]]]:
    """The `file_uploaded` notifications ingest accepted for the area, by notification id."""
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in ingest.accepted():
        if request.path != FILE_UPLOADED_PATH:
            continue
        body = request.json()
        if body.get("upload_area_id") == area:
            by_id[request.notification_id or ""].append(body)
    return by_id


def notified_versions(ingest: FakeIngest, area: str) -> dict[tuple[str, str | None], list[str]]:
    """For each (name, s3_etag) notified, the distinct notification ids that told of it."""
    ids: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    for notification_id, bodies in file_notifications(ingest, area).items():
        for body in bodies:
            etag = (body.get("checksums") or {}).get("s3_etag")
            ids[(body["name"], etag)].add(notification_id)
    return {key: sorted(value) for key, value in ids.items()}


def check_notifications(ingest: FakeIngest, area: str, states: list[VersionState]) -> int:
    """Every checksummed, corrupt or rejected version was notified under exactly one id, and nothing
    else was; returns how many versions were notified."""
    expected = {(s.name, s.etag if s.status != "REJECTED" else None) for s in states if s.status in NOTIFIED}

    def all_arrived() -> bool:
        return expected <= set(notified_versions(ingest, area))

    wait_until(all_arrived, timeout=120, what=f"notifications of {sorted(expected, key=str)}")
    notified = notified_versions(ingest, area)
    assert set(notified) == expected, (notified, expected)
    duplicated = {key: ids for key, ids in notified.items() if len(ids) != 1}
    assert not duplicated, f"versions notified under more than one id: {duplicated}"
    for bodies in file_notifications(ingest, area).values():
        assert all(body == bodies[0] for body in bodies), "one id, different bodies"
    return len(notified)


def record(case: str, injected: str, states: list[VersionState], notifications: int, lost: int = 0) -> None:
    final = sorted(
        f"{s.name}@{s.etag[:6]}: {s.status}{' current' if s.current else ''}"
        + (f" (run {s.last_run})" if s.last_run and s.last_run != s.status else "")
        for s in states
    )
    ROWS.append(CaseRow(case, injected, final, notifications, lost))


def s3_event(area: str, name: str, etag: str, size: int, sequencer: str | None = None) -> str:
    """An S3 `ObjectCreated:Put` event for one object, as S3 sends it to SQS (key form-encoded)."""
    obj: dict[str, Any] = {"key": quote_plus(f"{area}/{name}", safe="/"), "size": size, "eTag": etag}
    if sequencer is not None:
        obj["sequencer"] = sequencer
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"object": obj},
    }
    return json.dumps({"Records": [record]})


def store_root(stack: Stack) -> Path:
    return stack.workdir / "var" / "storage"


def new_area(stack: Stack) -> str:
    area = str(uuid.uuid4())
    with stack.client() as api:
        assert api.post(f"/v1/area/{area}").status_code == 201
    return area


def wait_deleted(stack: Stack, area: str) -> None:
    def gone() -> bool:
        with stack.client() as api:
            return api.head(f"/v1/area/{area}").status_code == 404

    wait_until(gone, timeout=120, what="the area deleted")


def put_racing_delete(stack: Stack, area: str) -> int:
    """PUT 40 MiB to the area, DELETE the area while the body streams (after its first MiB, then the
    rest of the body goes), wait until the area is deleted; returns the PUT's status."""
    first_chunk_sent, deleted = threading.Event(), threading.Event()

    def body() -> Iterator[bytes]:
        yield os.urandom(MIB)
        first_chunk_sent.set()
        deleted.wait(60)  # the DELETE was answered while this body streams
        for _ in range(39):
            yield os.urandom(MIB)

    answers: list[int] = []

    def upload() -> None:
        with stack.client() as api:
            response = api.put(
                f"/v1/area/{area}/big.bin", content=body(), headers={"Content-Type": CONTENT_TYPE}
            )
            answers.append(response.status_code)

    writer = threading.Thread(target=upload)
    writer.start()
    assert first_chunk_sent.wait(60)
    with stack.client() as api:
        assert api.delete(f"/v1/area/{area}").status_code == 202
    deleted.set()
    writer.join(180)
    assert len(answers) == 1
    assert answers[0] in (201, 404, 409), answers
    wait_deleted(stack, area)
    return answers[0]
