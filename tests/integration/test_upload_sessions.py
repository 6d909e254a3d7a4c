"""Resumable upload sessions (`/v2/areas/{uuid}/uploads…`) through the API served for real (uvicorn),
on PostgreSQL and SQLite, with the local store (the API's signed part route) and S3 (a moto server on
127.0.0.1; presigned part URLs used from Python with httpx). Completed files are checksummed by the
real checksum worker's record handler, fed from the `db://` queue.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import crc32c
import httpx
import pytest
from sqlalchemy import select, update

from support.api_helpers import drain
from support.checksums import reference_checksums
from support.live_api import API_KEY, live_context, serving
from support.scratch_database import scratch_database
from upload_api.context import ApiContext
from upload_api.workers.upload_sweep import sweep_upload_sessions
from upload_checksum.worker import Outcome, handle_record
from upload_common.db import upgrade
from upload_common.domain.versions import object_key
from upload_common.errors import UploadNotFoundError
from upload_common.models import FileVersion, UploadArea, UploadSession, utcnow
from upload_common.statuses import FileStatus, UploadSessionStatus
from upload_common.storage import ObjectStore, S3ObjectStore

MIB = 1024 * 1024
SMALL_PARTS = 5 * MIB  # UPLOAD_SESSION_PART_SIZE_BYTES in these tests (S3's smallest part)


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture(scope="module")
def pg_database(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        yield url


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_database")
        return url
    url = f"sqlite:///{tmp_path / 'upload.db'}"
    upgrade(url)
    return url


class Live:
    def __init__(self, context: ApiContext, address: tuple[str, int]) -> None:
        self.context = context
        self.http = httpx.Client(
            base_url=f"http://{address[0]}:{address[1]}", headers={"Api-Key": API_KEY}, timeout=120
        )
        self.area = str(uuid.uuid4())
        assert self.http.post(f"/v1/area/{self.area}", json={}).status_code == 201

    def create(self, **body: Any) -> httpx.Response:
        return self.http.post(f"/v2/areas/{self.area}/uploads", json=body)

    def target(self, session_id: str, number: int) -> dict[str, Any]:
        response = self.http.post(f"/v2/areas/{self.area}/uploads/{session_id}/parts/{number}")
        assert response.status_code == 200, response.text
        target: dict[str, Any] = response.json()
        return target

    def send(self, session_id: str, number: int, data: bytes) -> httpx.Response:
        """PUT the part where the API says, with only the headers it says (no Api-Key)."""
        target = self.target(session_id, number)
        assert target["method"] == "PUT"
        return httpx.put(target["url"], content=data, headers=target["headers"], timeout=120)

    def upload_parts(self, session: dict[str, Any], data: bytes) -> None:
        size = session["part_size"]
        for number in range(1, session["part_count"] + 1):
            sent = self.send(session["id"], number, data[(number - 1) * size : number * size])
            assert sent.status_code == 200, sent.text
            assert sent.headers["ETag"] == f'"{md5_hex(data[(number - 1) * size : number * size])}"'

    def complete(self, session_id: str) -> httpx.Response:
        return self.http.post(f"/v2/areas/{self.area}/uploads/{session_id}/complete")

    def checksum(self) -> list[Outcome]:
        """Run the checksum worker on every queued message."""
        return [
            o for body in drain(self.context.queue("checksum")) for o in handle_record(self.context, body)
        ]

    def version(self, name: str) -> FileVersion:
        with self.context.sessions() as session:
            return session.scalars(
                select(FileVersion)
                .join(UploadArea, FileVersion.area_id == UploadArea.id)
                .where(UploadArea.uuid == self.area, FileVersion.name == name, FileVersion.current.is_(True))
            ).one()


def live_api(database_url: str, store: ObjectStore, *, part_size: int | None) -> Iterator[Live]:
    context = live_context(database_url, store, session_part_size_bytes=part_size)
    with serving(context) as address:
        live = Live(context, address)
        drain(context.queue("checksum"))  # what earlier tests on this database left behind
        yield live
        live.http.close()


@pytest.fixture
def live(database_url: str, store: ObjectStore) -> Iterator[Live]:
    yield from live_api(database_url, store, part_size=SMALL_PARTS)


def test_a_file_sent_in_parts_is_recorded_and_checksummed(live: Live) -> None:
    data = os.urandom(2 * SMALL_PARTS + 1 * MIB)  # three parts, the last one short
    declared = {"sha256": hashlib.sha256(data).hexdigest(), "crc32c": f"{crc32c.crc32c(data):08x}"}
    created = live.create(
        name="reads/R1.fastq.gz", size=len(data), content_type="application/gzip", **declared
    )
    assert created.status_code == 201, created.text
    session = created.json()
    assert (session["part_size"], session["part_count"], session["status"]) == (SMALL_PARTS, 3, "OPEN")
    assert session["parts"] == []
    assert (session["name"], session["area_uuid"], session["sha256"]) == (
        "reads/R1.fastq.gz",
        live.area,
        declared["sha256"],
    )

    live.upload_parts(session, data)

    # Asking again with the same declaration resumes the same session, with the parts it received.
    again = live.create(name="reads/R1.fastq.gz", size=len(data), content_type="application/gzip", **declared)
    assert again.status_code == 200
    assert again.json()["id"] == session["id"]
    assert [(p["number"], p["size"]) for p in again.json()["parts"]] == [
        (1, SMALL_PARTS),
        (2, SMALL_PARTS),
        (3, MIB),
    ]
    assert [p["etag"] for p in again.json()["parts"]] == [
        md5_hex(data[:SMALL_PARTS]),
        md5_hex(data[SMALL_PARTS : 2 * SMALL_PARTS]),
        md5_hex(data[2 * SMALL_PARTS :]),
    ]
    assert [u["id"] for u in live.http.get(f"/v2/areas/{live.area}/uploads").json()["uploads"]] == [
        session["id"]
    ]

    completed = live.complete(session["id"])
    assert completed.status_code == 200, completed.text
    body = completed.json()
    assert body["status"] == "COMPLETED"
    assert body["parts"] == []
    assert (body["file"]["name"], body["file"]["size"], body["file"]["content_type"]) == (
        "reads/R1.fastq.gz",
        len(data),
        "application/gzip",
    )
    assert live.complete(session["id"]).json() == body  # completing twice answers the same
    assert live.http.get(f"/v2/areas/{live.area}/uploads").json()["uploads"] == []

    assert live.checksum() == [Outcome.CHECKSUMMED]
    version = live.version("reads/R1.fastq.gz")
    assert version.status is FileStatus.CHECKSUMMED
    assert version.checksums == reference_checksums(data)
    assert version.client_checksums == declared
    with live.context.store.open(object_key(live.area, "reads/R1.fastq.gz")) as handle:
        assert handle.read() == data
    info = live.http.get(f"/v1/area/{live.area}/{'reads%2FR1.fastq.gz'}").json()
    assert info["checksums"] == reference_checksums(data)
    assert live.http.get(f"/v2/areas/{live.area}/uploads/{session['id']}").json()["file"][
        "checksums"
    ] == reference_checksums(data)


def test_a_declared_sha256_that_does_not_match_makes_the_version_corrupt(live: Live) -> None:
    data = b"the bytes that arrived\n" * 100
    session = live.create(name="corrupt.txt", size=len(data), sha256="0" * 64).json()
    live.upload_parts(session, data)
    assert live.complete(session["id"]).status_code == 200
    assert live.checksum() == [Outcome.CORRUPT]
    assert live.version("corrupt.txt").status is FileStatus.CORRUPT


def test_an_empty_file_is_one_empty_part(live: Live) -> None:
    session = live.create(name="empty", size=0).json()
    assert (session["part_count"], session["part_size"]) == (1, SMALL_PARTS)
    live.upload_parts(session, b"")
    assert live.complete(session["id"]).json()["file"]["size"] == 0
    assert live.checksum() == [Outcome.CHECKSUMMED]
    assert live.version("empty").checksums == reference_checksums(b"")


def test_completing_with_a_missing_or_wrongly_sized_part_is_a_conflict_naming_them(live: Live) -> None:
    data = os.urandom(SMALL_PARTS + 10)
    session = live.create(name="partial.bin", size=len(data)).json()
    assert live.send(session["id"], 1, data[:SMALL_PARTS]).status_code == 200
    missing = live.complete(session["id"])
    assert missing.status_code == 409
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "part 2 is missing" in missing.json()["detail"]
    if isinstance(live.context.store, S3ObjectStore):
        # S3 takes any size at a presigned URL; completion refuses it.
        assert live.send(session["id"], 2, data[SMALL_PARTS:] + b"extra").status_code == 200
        wrong = live.complete(session["id"])
        assert wrong.status_code == 409
        assert "part 2 has 15 bytes, not 10" in wrong.json()["detail"]
    else:
        # The API's part route refuses a part of the wrong size at once.
        refused = live.send(session["id"], 2, data[SMALL_PARTS:] + b"extra")
        assert refused.status_code == 400
        assert "must have 10 bytes" in refused.json()["detail"]
    assert live.send(session["id"], 2, data[SMALL_PARTS:]).status_code == 200  # re-sending replaces it
    assert live.complete(session["id"]).status_code == 200
    with live.context.store.open(object_key(live.area, "partial.bin")) as handle:
        assert handle.read() == data


def test_abort_removes_the_parts_and_may_be_repeated(live: Live) -> None:
    session = live.create(name="abandoned", size=3).json()
    assert live.send(session["id"], 1, b"abc").status_code == 200
    path = f"/v2/areas/{live.area}/uploads/{session['id']}"
    assert live.http.delete(path).status_code == 204
    assert live.http.delete(path).status_code == 204
    assert live.http.get(path).json()["status"] == "ABORTED"
    with live.context.sessions() as db:
        upload = db.get(UploadSession, uuid.UUID(session["id"]))
        assert upload is not None
        with pytest.raises(UploadNotFoundError):
            live.context.store.list_parts(object_key(live.area, "abandoned"), upload.store_upload_id)
    assert live.http.post(f"{path}/parts/1").status_code == 409
    assert live.complete(session["id"]).status_code == 409
    # A new session for the same file is a new one.
    assert live.create(name="abandoned", size=3).status_code == 201


def test_expired_sessions_are_swept_and_their_parts_deleted(live: Live) -> None:
    session = live.create(name="late", size=3).json()
    assert live.send(session["id"], 1, b"abc").status_code == 200
    assert sweep_upload_sessions(live.context) == 0  # not yet expired
    with live.context.sessions.begin() as db:
        db.execute(
            update(UploadSession)
            .where(UploadSession.id == uuid.UUID(session["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert live.http.post(f"/v2/areas/{live.area}/uploads/{session['id']}/parts/1").status_code == 409
    assert live.http.get(f"/v2/areas/{live.area}/uploads").json()["uploads"] == []

    assert sweep_upload_sessions(live.context) == 1
    assert sweep_upload_sessions(live.context) == 0
    with live.context.sessions() as db:
        upload = db.get(UploadSession, uuid.UUID(session["id"]))
        assert upload is not None
        assert upload.status is UploadSessionStatus.EXPIRED
        with pytest.raises(UploadNotFoundError):
            live.context.store.list_parts(object_key(live.area, "late"), upload.store_upload_id)


def test_a_locked_area_takes_no_session_part_or_completion(live: Live) -> None:
    session = live.create(name="before-lock", size=3).json()
    assert live.http.post(f"/v1/area/{live.area}/lock").status_code in (200, 204)
    refused = live.create(name="after-lock", size=3)
    assert refused.status_code == 409
    assert "locked" in refused.json()["detail"]
    assert live.http.post(f"/v2/areas/{live.area}/uploads/{session['id']}/parts/1").status_code == 409
    assert live.complete(session["id"]).status_code == 409


def test_bad_requests_are_problems(live: Live) -> None:
    assert live.create(name="x", size=-1).status_code == 400
    assert live.create(name="x", size=1, sha256="nothex").status_code == 400
    assert live.create(name="../escape", size=1).status_code == 400
    assert live.create(name="x", size=1, extra=True).status_code == 400
    session = live.create(name="x", size=1).json()
    assert live.http.post(f"/v2/areas/{live.area}/uploads/{session['id']}/parts/2").status_code == 400
    assert live.http.get(f"/v2/areas/{live.area}/uploads/{uuid.uuid4()}").status_code == 404
    other = str(uuid.uuid4())
    assert live.http.post(f"/v1/area/{other}", json={}).status_code == 201
    assert live.http.get(f"/v2/areas/{other}/uploads/{session['id']}").status_code == 404  # another area's
    anonymous = httpx.post(
        str(live.http.base_url.join(f"/v2/areas/{live.area}/uploads")), json={"name": "y", "size": 1}
    )
    assert anonymous.status_code == 401


def test_the_local_part_route_needs_its_own_signature(database_url: str, tmp_path: Path) -> None:
    from upload_common.storage import LocalObjectStore  # noqa: PLC0415 - this test's store only

    for live in live_api(database_url, LocalObjectStore(tmp_path / "store"), part_size=None):
        session = live.create(name="signed", size=3).json()
        url = live.target(session["id"], 1)["url"]
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        tampered = {**query, "signature": "0" * 64}
        assert httpx.put(f"{base}?{urlencode(tampered)}", content=b"abc").status_code == 403
        # The signature covers the part number and the expiry: neither can be changed.
        assert httpx.put(f"{base[:-1]}2?{urlencode(query)}", content=b"abc").status_code in (400, 403)
        later = {**query, "expires": str(int(query["expires"]) + 1)}
        assert httpx.put(f"{base}?{urlencode(later)}", content=b"abc").status_code == 403
        assert httpx.put(url, content=b"abc").status_code == 200
        assert live.complete(session["id"]).status_code == 200


@pytest.mark.parametrize("store", ["s3"], indirect=True)
def test_on_s3_the_default_rule_makes_the_objects_etag_its_s3_etag(
    database_url: str, store: ObjectStore
) -> None:
    data = os.urandom(64 * MIB + 1)  # two parts under the rule: the smallest multipart object
    for live in live_api(database_url, store, part_size=None):
        session = live.create(name="rule.bin", size=len(data)).json()
        assert (session["part_size"], session["part_count"]) == (64 * MIB, 2)
        target = live.target(session["id"], 1)
        assert not target["url"].startswith(str(live.http.base_url))  # straight to S3, not via the API
        assert "X-Amz-Signature=" in target["url"]
        live.upload_parts(session, data)
        assert live.complete(session["id"]).status_code == 200
        assert live.checksum() == [Outcome.CHECKSUMMED]
        checksums = live.version("rule.bin").checksums
        assert checksums == reference_checksums(data)
        assert checksums is not None
        assert store.head(object_key(live.area, "rule.bin")).etag == checksums["s3_etag"]
