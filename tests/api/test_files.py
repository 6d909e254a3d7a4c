"""Files through the API: streamed store with checksums, FileInfo, listing, and every error path."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import crc32c
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from support.api_helpers import drain, problem_of
from upload_api.context import ApiContext
from upload_common.models import ChecksumRun, FileVersion, Notification

JSON_TYPE = 'application/json; dcp-type="metadata/sample"'


@pytest.fixture
def area(client: TestClient, auth: dict[str, str]) -> str:
    area_uuid = str(uuid.uuid4())
    assert client.post(f"/v1/area/{area_uuid}", headers=auth).status_code == 201
    return area_uuid


def expected_checksums(data: bytes, part: int = 64 * 1024 * 1024) -> dict[str, str]:
    """Computed here, independently of the engine."""
    parts = [data[i : i + part] for i in range(0, len(data), part)] or [b""]
    etag = (
        hashlib.md5(data).hexdigest()  # noqa: S324 - the S3 ETag is MD5
        if len(parts) == 1
        else hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f"-{len(parts)}"  # noqa: S324
    )
    return {
        "sha1": hashlib.sha1(data).hexdigest(),  # noqa: S324 - a checksum, not security
        "sha256": hashlib.sha256(data).hexdigest(),
        "crc32c": f"{crc32c.crc32c(data):08x}",
        "s3_etag": etag,
    }


def put(
    client: TestClient, auth: dict[str, str], area: str, name: str, data: bytes, ctype: str = JSON_TYPE
) -> object:
    return client.put(
        f"/v1/area/{area}/{quote(name, safe='')}", headers={**auth, "Content-Type": ctype}, content=data
    )


@pytest.mark.parametrize(
    "name",
    [
        "metadata.json",
        "dir/sub dir/file one.json",
        "ünïcødé 文件.json",
        "a" * 200 + ".json",
        "100% done.json",
    ],
)
def test_store_returns_complete_file_info(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext, name: str
) -> None:
    data = b'{"sample": "one"}'
    response = put(client, auth, area, name, data)
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["name"] == name
    assert info["size"] == len(data)
    assert info["upload_area_id"] == area
    assert info["content_type"] == JSON_TYPE
    assert info["url"] == api_context.store.object_url(f"{area}/{name}")
    assert info["checksums"] == expected_checksums(data)
    assert info["last_modified"].endswith("+00:00")
    # The stored bytes and the service's tags on the object.
    with api_context.store.open(f"{area}/{name}") as stored:
        assert stored.read() == data
    tags = api_context.store.get_tags(f"{area}/{name}")
    assert tags == {f"hca-dss-{k}": v for k, v in expected_checksums(data).items()}
    # GET gives the same FileInfo, decoding the name exactly once.
    assert client.get(f"/v1/area/{area}/{quote(name, safe='')}").json() == info


def test_store_records_one_checksummed_version_and_one_notification(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    put(client, auth, area, "a.json", b"{}")
    with api_context.sessions() as session:
        version = session.scalars(select(FileVersion).where(FileVersion.name == "a.json")).one()
        assert (version.status, version.origin) == ("CHECKSUMMED", "api")
        runs = session.scalars(select(ChecksumRun).where(ChecksumRun.file_id == version.id)).all()
        assert [(run.status, run.job_id) for run in runs] == [("CHECKSUMMED", None)]
        notes = session.scalars(select(Notification).where(Notification.file_id == version.id)).all()
        assert [note.event_type for note in notes] == ["file_uploaded"]
        assert notes[0].payload["origin"] == "api"
        assert notes[0].payload["checksums"] == expected_checksums(b"{}")


def test_identical_content_is_not_rewritten(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    first = put(client, auth, area, "same.json", b'{"x": 1}').json()
    path = api_context.store.object_url(f"{area}/same.json").removeprefix("file://")
    before = Path(path).stat()
    second = put(client, auth, area, "same.json", b'{"x": 1}')
    assert second.status_code == 201
    assert second.json() == first
    after = Path(path).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    with api_context.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(FileVersion).where(FileVersion.name == "same.json")
            )
            == 1
        )
        assert session.scalar(select(func.count()).select_from(Notification)) == 1


def test_new_content_is_a_new_version(
    client: TestClient, auth: dict[str, str], area: str, api_context: ApiContext
) -> None:
    put(client, auth, area, "v.json", b"[1]")
    second = put(client, auth, area, "v.json", b"[1, 2]").json()
    assert second["checksums"] == expected_checksums(b"[1, 2]")
    assert client.get(f"/v1/area/{area}/v.json").json()["checksums"] == second["checksums"]
    with api_context.sessions() as session:
        assert (
            session.scalar(select(func.count()).select_from(FileVersion).where(FileVersion.name == "v.json"))
            == 2
        )


@pytest.mark.slow
def test_large_body_streams_in_parts(client: TestClient, auth: dict[str, str], area: str) -> None:
    size = 70 * 1024 * 1024
    data = os.urandom(1024 * 1024) * 70

    def body() -> Iterator[bytes]:
        for offset in range(0, size, 1024 * 1024):
            yield data[offset : offset + 1024 * 1024]

    response = client.put(
        f"/v1/area/{area}/big.bin",
        headers={
            **auth,
            "Content-Type": "application/octet-stream; dcp-type=data",
            "Content-Length": str(size),
        },
        content=body(),
    )
    assert response.status_code == 201, response.text
    checksums = response.json()["checksums"]
    assert checksums == expected_checksums(data)
    assert checksums["s3_etag"].endswith("-2")


def test_chunked_body_without_content_length(client: TestClient, auth: dict[str, str], area: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)

    def body() -> Iterator[bytes]:
        for offset in range(0, len(data), 65536):
            yield data[offset : offset + 65536]

    response = client.put(
        f"/v1/area/{area}/chunked.bin",
        headers={**auth, "Content-Type": "application/octet-stream; dcp-type=data"},
        content=body(),
    )
    assert response.status_code == 201, response.text
    assert response.json()["size"] == len(data)
    assert response.json()["checksums"] == expected_checksums(data)


def test_empty_file(client: TestClient, auth: dict[str, str], area: str) -> None:
    info = put(client, auth, area, "empty.txt", b"", "text/plain; dcp-type=data").json()
    assert info["size"] == 0
    assert info["checksums"] == expected_checksums(b"")
    assert info["checksums"]["s3_etag"] == "d41d8cd98f00b204e9800998ecf8427e"


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8", "dcp-type=data"])
def test_store_needs_a_dcp_type(client: TestClient, auth: dict[str, str], area: str, ctype: str) -> None:
    response = put(client, auth, area, "x.json", b"{}", ctype)
    assert response.status_code == 400
    assert "dcp-type" in problem_of(response)["detail"]
    assert client.get(f"/v1/area/{area}/x.json").status_code == 404  # nothing stored


@pytest.mark.parametrize(
    "ctype", ["application/json; dcp-type=data", 'text/plain;dcp-type="a/b"', "x/y; DCP-TYPE=z"]
)
def test_dcp_type_quoted_or_not(client: TestClient, auth: dict[str, str], area: str, ctype: str) -> None:
    assert put(client, auth, area, "x.json", b"{}", ctype).status_code == 201


@pytest.mark.parametrize(
    "encoded",
    [
        "..",
        "..%2Fother",
        "a%2F..%2Fb",
        "%2Fabs",
        "a%2F%2Fb",
        "nul%00byte",
        "back%5Cslash",
        "a" * 1025,
        "%FF%FE",
    ],
)
def test_bad_names_are_refused(client: TestClient, auth: dict[str, str], area: str, encoded: str) -> None:
    response = client.put(
        f"/v1/area/{area}/{encoded}", headers={**auth, "Content-Type": JSON_TYPE}, content=b"{}"
    )
    assert response.status_code in (400, 404)  # ".." never reaches the handler: it is not a file path
    if response.status_code == 400:
        problem_of(response)
    assert list(client.get(f"/v1/area/{area}/files").json()["files"]) == []


def test_store_into_unknown_area_is_404(client: TestClient, auth: dict[str, str]) -> None:
    response = put(client, auth, str(uuid.uuid4()), "x.json", b"{}")
    assert response.status_code == 404
    problem_of(response)


def test_store_needs_the_key(client: TestClient, area: str) -> None:
    response = client.put(f"/v1/area/{area}/x.json", headers={"Content-Type": JSON_TYPE}, content=b"{}")
    assert response.status_code == 401


def test_file_info_of_missing_file_is_404(client: TestClient, area: str) -> None:
    response = client.get(f"/v1/area/{area}/nothing-here.json")
    assert response.status_code == 404
    assert "nothing-here.json" in problem_of(response)["detail"]


def test_file_uploaded_straight_to_the_store_has_no_checksums_yet(
    client: TestClient, area: str, api_context: ApiContext
) -> None:
    api_context.store.put(f"{area}/direct.fastq", _stream(b"@r\nACGT\n+\n!!!!\n"), content_type="text/plain")
    info = client.get(f"/v1/area/{area}/direct.fastq").json()
    assert (info["size"], info["checksums"]) == (15, None)


def test_notify_uploaded_queues_a_checksum_event(
    client: TestClient, area: str, api_context: ApiContext
) -> None:
    api_context.store.put(f"{area}/dir/r 1.fastq", _stream(b"@r\n"), content_type="text/plain")
    response = client.post(f"/v1/area/{area}/{quote('dir/r 1.fastq', safe='')}")
    assert response.status_code == 202
    assert [json.loads(b) for b in drain(api_context.queue("checksum"))] == [
        {"type": "file_uploaded", "area_uuid": area, "name": "dir/r 1.fastq"}
    ]


def test_notify_uploaded_for_missing_file_is_404(
    client: TestClient, area: str, api_context: ApiContext
) -> None:
    assert client.post(f"/v1/area/{area}/ghost.fastq").status_code == 404
    assert drain(api_context.queue("checksum")) == []


def test_files_info_in_the_order_asked(client: TestClient, auth: dict[str, str], area: str) -> None:
    for name in ("b.json", "a/c.json"):
        put(client, auth, area, name, name.encode())
    response = client.put(f"/v1/area/{area}/files_info", json=["a/c.json", "b.json"])
    assert response.status_code == 200
    assert [info["name"] for info in response.json()] == ["a/c.json", "b.json"]
    assert response.json()[0]["checksums"] == expected_checksums(b"a/c.json")


@pytest.mark.parametrize(
    ("body", "status"),
    [(b'["missing.json"]', 404), (b'{"not": "a list"}', 400), (b"[1, 2]", 400), (b"[", 400)],
)
def test_files_info_errors(client: TestClient, area: str, body: bytes, status: int) -> None:
    response = client.put(
        f"/v1/area/{area}/files_info", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    problem_of(response)


def test_listing_pages_in_name_order_with_current_versions(
    client: TestClient, auth: dict[str, str], area: str
) -> None:
    names = [f"f{i:02d}.json" for i in range(7)]
    for name in reversed(names):
        put(client, auth, area, name, b"[0]")
    put(client, auth, area, "f03.json", b"[1]")  # a newer version is listed once, with its checksums
    seen: list[dict[str, object]] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get(f"/v1/area/{area}/files", params=params).json()
        seen.extend(body["files"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [info["name"] for info in seen] == names
    assert seen[3]["checksums"] == expected_checksums(b"[1]")


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "cursor=!!!", "cursor=e30"])
def test_listing_bad_query_is_400(client: TestClient, area: str, query: str) -> None:
    response = client.get(f"/v1/area/{area}/files?{query}")
    assert response.status_code == 400
    problem_of(response)


def test_listing_unknown_area_is_404(client: TestClient) -> None:
    assert client.get(f"/v1/area/{uuid.uuid4()}/files").status_code == 404


def _stream(data: bytes) -> object:
    import io  # noqa: PLC0415

    return io.BytesIO(data)


@pytest.mark.parametrize(
    "ctype",
    ["multipart/form-data; boundary=xyz; dcp-type=data", "application/x-www-form-urlencoded; dcp-type=data"],
)
def test_form_bodies_are_stored_as_they_are(
    client: TestClient, auth: dict[str, str], area: str, ctype: str
) -> None:
    data = b"--xyz\r\nnot really a form--xyz--\r\n"
    response = put(client, auth, area, "form.bin", data, ctype)
    assert response.status_code == 201, response.text
    assert response.json()["checksums"] == expected_checksums(data)
