"""Uploads to the API served for real (uvicorn, a committed database, the local store and S3):

- a body ends where its framing says: an upload whose connection closes before its Content-Length or
  its final chunk is an abort (the requests are written on raw sockets);
- concurrent uploads to one name settle on the server: the last complete write is stored, recorded
  with its own checksums, and every other writer hears 201 or a retryable 409/503.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from support.checksums import reference_checksums
from support.live_api import API_KEY, live_context, serving, wait_for
from support.scratch_database import scratch_database
from upload_api.context import ApiContext
from upload_common import boto_clients
from upload_common.models import FileVersion, Notification, QueueMessage, UploadArea, Validation
from upload_common.storage import LocalObjectStore, ObjectStore, S3ObjectStore
from upload_common.storage.local import INTERNAL_DIR

CONTENT_TYPE = 'application/octet-stream; dcp-type="data"'
GOOD = b"the good version\n" * 1000
SMALL, LARGE = 300_000, 9 * 1024 * 1024  # LARGE streams into the store (beyond the 8 MiB read first)


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        yield url


@pytest.fixture
def live(database_url: str, store: ObjectStore) -> Iterator[tuple[ApiContext, tuple[str, int]]]:
    context = live_context(database_url, store)
    with serving(context) as address:
        yield context, address


class Aborts:
    """The API's "aborted" log lines, as the server's threads log them."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def lines(self) -> list[str]:
        return [r.getMessage() for r in self._caplog.records if r.name == "upload_api.body_framing"]


@pytest.fixture
def aborts(caplog: pytest.LogCaptureFixture) -> Aborts:
    caplog.set_level(logging.WARNING, logger="upload_api.body_framing")
    return Aborts(caplog)


def http(address: tuple[str, int]) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://{address[0]}:{address[1]}", headers={"Api-Key": API_KEY}, timeout=60
    )


def area_with_file(address: tuple[str, int], name: str) -> str:
    """A new area holding `name` with the GOOD bytes; its uuid."""
    area = str(uuid.uuid4())
    with http(address) as client:
        assert client.post(f"/v1/area/{area}").status_code == 201
        stored = client.put(f"/v1/area/{area}/{name}", content=GOOD, headers={"Content-Type": CONTENT_TYPE})
        assert stored.status_code == 201, stored.text
    return area


def cut_off_request(address: tuple[str, int], head: str, body_pieces: list[bytes]) -> None:
    """Send the request head and body pieces, then close the connection without finishing the body."""
    with socket.create_connection(address) as sock:
        sock.sendall(head.encode("latin-1"))
        for piece in body_pieces:
            sock.sendall(piece)


def request_head(method: str, path: str, **headers: str) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Api-Key: {API_KEY}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def chunked(data: bytes, size: int = 64 * 1024) -> list[bytes]:
    """`data` as chunks of chunked transfer coding, without the final zero-length chunk."""
    return [
        b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size]) for i in range(0, len(data), size)
    ]


def state(context: ApiContext, area: str, name: str) -> dict[str, Any]:
    """Everything a stored upload changes: the object, its record, notifications, queued messages."""
    key = f"{area}/{name}"
    with context.sessions() as session:
        area_id = session.scalars(select(UploadArea.id).where(UploadArea.uuid == area)).one()
        versions = session.scalars(select(FileVersion).where(FileVersion.area_id == area_id)).all()
        notifications = session.scalar(
            select(func.count())
            .select_from(Notification)
            .join(FileVersion)
            .where(FileVersion.area_id == area_id)
        )
        queued = session.scalar(
            select(func.count()).select_from(QueueMessage).where(QueueMessage.body.contains(area))
        )
    with context.store.open(key) as stream:
        data = stream.read()
    return {
        "bytes": data,
        "etag": context.store.head(key).etag,
        "tags": context.store.get_tags(key),
        "versions": [(v.etag, v.status, v.checksums) for v in versions],
        "notifications": notifications,
        "queued": queued,
    }


def assert_no_leftovers(store: ObjectStore, request: pytest.FixtureRequest) -> None:
    """No temporary file (local store), no unfinished multipart upload (S3)."""
    if isinstance(store, LocalObjectStore):
        assert list((Path(store.url.removeprefix("file://")) / INTERNAL_DIR / "tmp").iterdir()) == []
    else:
        assert isinstance(store, S3ObjectStore)
        s3 = boto_clients.client("s3", endpoint_url=request.getfixturevalue("moto_url"))
        assert s3.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
@pytest.mark.parametrize("sent", [SMALL, LARGE], ids=["small", "large"])
def test_an_upload_cut_off_before_its_body_ends_changes_nothing(
    live: tuple[ApiContext, tuple[str, int]],
    aborts: Aborts,
    request: pytest.FixtureRequest,
    framing: str,
    sent: int,
) -> None:
    context, address = live
    name = "reads.fastq"
    area = area_with_file(address, name)
    before = state(context, area, name)

    data = b"N" * sent
    if framing == "chunked":
        head = request_head(
            "PUT", f"/v1/area/{area}/{name}", Content_Type=CONTENT_TYPE, Transfer_Encoding="chunked"
        )
        cut_off_request(address, head, chunked(data))
    else:
        head = request_head(
            "PUT", f"/v1/area/{area}/{name}", Content_Type=CONTENT_TYPE, Content_Length=str(sent + 1)
        )
        cut_off_request(address, head, [data])

    # Done when the API logs the abort (after its handler finished), or, without the rule, when a
    # second version appears.
    wait_for(
        lambda: aborts.lines() or len(state(context, area, name)["versions"]) > 1, what="the upload to end"
    )
    assert state(context, area, name) == before
    assert_no_leftovers(context.store, request)
    [line] = aborts.lines()
    assert f"PUT /v1/area/{area}/{name} aborted" in line
    assert "nothing was stored or recorded" in line


def test_a_json_body_cut_off_records_nothing(
    live: tuple[ApiContext, tuple[str, int]], aborts: Aborts, caplog: pytest.LogCaptureFixture
) -> None:
    """The framing rule holds where connexion reads the body (a validation request) as well."""
    context, address = live
    area = area_with_file(address, "a.json")
    body = b'{"validator_image": "upload/validator-json", "files": ["a.json"]}'
    head = request_head(
        "PUT", f"/v1/area/{area}/validate", Content_Type="application/json", Content_Length=str(len(body))
    )
    cut_off_request(address, head, [body[:20]])

    wait_for(aborts.lines, what="the abort to be logged")
    with context.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Validation)) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a 400, not a 500


WRITERS = 20


def test_concurrent_uploads_to_one_name_settle_on_the_server(
    live: tuple[ApiContext, tuple[str, int]],
) -> None:
    context, address = live
    area, name = str(uuid.uuid4()), "contested.bin"
    with http(address) as client:
        assert client.post(f"/v1/area/{area}").status_code == 201
    contents = [f"writer {i}\n".encode() * (4096 + i) for i in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    answers: list[httpx.Response | None] = [None] * WRITERS

    def write(i: int) -> None:
        with http(address) as client:
            start.wait()
            answers[i] = client.put(
                f"/v1/area/{area}/{name}", content=contents[i], headers={"Content-Type": CONTENT_TYPE}
            )

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for i, answer in enumerate(answers):
        assert answer is not None
        assert answer.status_code in {201, 409, 503}, answer.text
        if answer.status_code == 201:
            assert answer.json()["checksums"] == reference_checksums(contents[i])
        else:  # a race is never the client's fault: it may simply try again
            assert answer.headers["Retry-After"], answer.headers
            assert answer.headers["content-type"] == "application/problem+json"
    stored = state(context, area, name)
    assert stored["bytes"] in contents
    expected = reference_checksums(stored["bytes"])
    [recorded] = [checksums for etag, _, checksums in stored["versions"] if etag == stored["etag"]]
    assert recorded == expected
    tags = {key.removeprefix("hca-dss-"): value for key, value in stored["tags"].items()}
    if tags != expected:  # another writer's tags landed last: the worker is asked to re-tag
        assert stored["queued"] > 0
