"""An area's manifest, its completeness notifications and its seal, through the API, on PostgreSQL and
on SQLite, with files arriving by the real paths: the API's streamed PUT (checksummed inline), the
checksum worker (a store write and its event), and a checksum job's report (`update_checksum`)."""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from api.conftest import API_KEY, QUEUE_PREFIX
from support.api_helpers import problem_of
from support.checksums import reference_checksums
from support.rolled_back import rolled_back_sessions
from upload_api.app import create_app
from upload_api.context import ApiContext
from upload_checksum.worker import Outcome, handle_record
from upload_common import messages
from upload_common.callback_tokens import job_token
from upload_common.domain.checksum_runs import Claim, SeenObject, claim_checksum_run, stale_period
from upload_common.domain.seals import SERVICE_PREFIX
from upload_common.models import FileVersion, Notification, UploadArea
from upload_common.settings import Settings
from upload_common.statuses import AreaStatus, NotificationType
from upload_common.storage import LocalObjectStore

CONTENT_TYPE = 'application/octet-stream; dcp-type="data"'
SECRET = "test-server-secret"
DATA = {"a.fastq": b"@a\nACGT\n+\n!!!!\n", "b.fastq": b"@b\nTTTT\n+\n####\n", "dir/c.json": b'{"c": 1}'}


@pytest.fixture(params=["postgresql", "sqlite"])
def context(request: pytest.FixtureRequest, tmp_path: Path, aws: None) -> Iterator[ApiContext]:
    engine = request.getfixturevalue(f"{request.param.replace('postgresql', 'postgres')}_engine")
    with rolled_back_sessions(engine) as sessions:
        settings = Settings(
            database_url=engine.url.render_as_string(hide_password=False),
            storage_url=f"file://{tmp_path / 'storage'}",
            queue_url=QUEUE_PREFIX,
            api_keys=(API_KEY,),  # type: ignore[arg-type]
            secret_key=SECRET,  # type: ignore[arg-type]
        )
        yield ApiContext(
            settings=settings,
            engine=engine,
            sessions=sessions,
            store=LocalObjectStore(tmp_path / "storage"),
            credential_issuer=None,
            api_keys=(API_KEY.encode(),),
            secret_key=SECRET,
        )


@pytest.fixture
def client(context: ApiContext) -> Iterator[TestClient]:
    with create_app(context).test_client() as test_client:
        yield test_client


AUTH = {"Api-Key": API_KEY}


@pytest.fixture
def area(client: TestClient) -> str:
    area_uuid = str(uuid.uuid4())
    assert client.post(f"/v1/area/{area_uuid}", headers=AUTH).status_code == 201
    return area_uuid


def entry(name: str, data: bytes, **overrides: Any) -> dict[str, Any]:
    sums = reference_checksums(data)
    return {"name": name, "size": len(data), "sha256": sums["sha256"], "crc32c": sums["crc32c"]} | overrides


def put_manifest(client: TestClient, area: str, files: list[dict[str, Any]]) -> Any:
    return client.put(f"/v2/areas/{area}/manifest", content=json.dumps({"files": files}), headers=AUTH)


def verdicts(client: TestClient, area: str) -> tuple[dict[str, str], bool, list[str]]:
    response = client.get(f"/v2/areas/{area}/manifest", headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    return (
        {f["name"]: f["verdict"] for f in body["files"]},
        body["complete"],
        [f["name"] for f in body["extra_files"]],
    )


def events(context: ApiContext, area: str, *types: NotificationType) -> list[Notification]:
    with context.sessions() as session:
        rows = session.scalars(
            select(Notification).where(Notification.event_type.in_(types)).order_by(Notification.created_at)
        ).all()
        return [row for row in rows if row.payload.get("upload_area_id") == area]


def api_put(client: TestClient, area: str, name: str, data: bytes) -> None:
    quoted = name.replace("/", "%2F")
    response = client.put(
        f"/v1/area/{area}/{quoted}", content=data, headers=AUTH | {"Content-Type": CONTENT_TYPE}
    )
    assert response.status_code == 201, response.text


def store_write(context: ApiContext, area: str, name: str, data: bytes) -> None:
    """Bytes written straight to the store, as a submitter with scoped credentials would."""
    context.store.put(f"{area}/{name}", io.BytesIO(data), size=len(data), content_type=CONTENT_TYPE)


def claim_for_job(context: ApiContext, area: str, name: str) -> str:
    """What the worker does for a file above its inline limit: the version is recorded, its run
    SCHEDULED for a checksum job (the file is pending until the job reports)."""
    key = f"{area}/{name}"
    head = context.store.head(key)
    with context.sessions.begin() as session:
        seen = SeenObject(area, name, head.etag, head, url=context.store.object_url(key))
        claim = claim_checksum_run(session, seen, for_job=True, stale_after=stale_period(context.settings))
    assert isinstance(claim, Claim)
    return str(claim.run_id)


def job_reports(client: TestClient, area: str, run_id: str, data: bytes) -> None:
    token = job_token(SECRET, "checksum", run_id, int(time.time() + 600))
    response = client.post(
        f"/v1/area/{area}/update_checksum/{run_id}",
        json={
            "status": "CHECKSUMMED",
            "job_id": "job-1",
            "payload": {"checksums": reference_checksums(data)},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (200, 204), response.text


def test_three_files_go_missing_pending_verified_and_complete_is_sent_once(
    client: TestClient, context: ApiContext, area: str
) -> None:
    assert put_manifest(client, area, [entry(n, d) for n, d in DATA.items()]).json() == {
        "upload_area_id": area,
        "expected_files": 3,
        "complete": False,
    }
    assert verdicts(client, area) == (dict.fromkeys(DATA, "missing"), False, [])

    api_put(client, area, "a.fastq", DATA["a.fastq"])  # checksummed while it streams
    store_write(context, area, "dir/c.json", DATA["dir/c.json"])
    run_id = claim_for_job(context, area, "dir/c.json")
    assert verdicts(client, area)[0] == {"a.fastq": "verified", "b.fastq": "missing", "dir/c.json": "pending"}

    store_write(context, area, "b.fastq", DATA["b.fastq"])
    body = messages.file_uploaded(area, "b.fastq")
    assert handle_record(context, body) == [Outcome.CHECKSUMMED]
    assert verdicts(client, area) == (
        {"a.fastq": "verified", "b.fastq": "verified", "dir/c.json": "pending"},
        False,
        [],
    )
    assert events(context, area, NotificationType.AREA_COMPLETE) == []

    job_reports(client, area, run_id, DATA["dir/c.json"])
    assert verdicts(client, area) == (dict.fromkeys(DATA, "verified"), True, [])
    # Duplicates of every event, and the same manifest again: still one area_complete.
    job_reports(client, area, run_id, DATA["dir/c.json"])
    assert handle_record(context, body) == [Outcome.ALREADY_DONE]
    api_put(client, area, "a.fastq", DATA["a.fastq"])
    assert put_manifest(client, area, [entry(n, d) for n, d in DATA.items()]).json()["complete"] is True
    complete = events(context, area, NotificationType.AREA_COMPLETE, NotificationType.AREA_INCOMPLETE)
    assert [n.event_type for n in complete] == [NotificationType.AREA_COMPLETE]
    assert complete[0].target == "/messaging/areaComplete"
    assert complete[0].payload == {
        "event": "area_complete",
        "upload_area_id": area,
        "expected_files": 3,
        "verdicts": {
            "missing": 0,
            "size_mismatch": 0,
            "pending": 0,
            "corrupt": 0,
            "checksum_mismatch": 0,
            "invalid": 0,
            "verified": 3,
        },
    }


def test_mismatches_are_reported_and_a_broken_area_is_incomplete_once(
    client: TestClient, context: ApiContext, area: str
) -> None:
    files = [entry(n, d) for n, d in DATA.items()]
    put_manifest(client, area, files)
    for name, data in DATA.items():
        api_put(client, area, name, data)
    api_put(client, area, "extra.txt", b"not expected")
    assert verdicts(client, area) == (dict.fromkeys(DATA, "verified"), True, ["extra.txt"])

    # The same size, other bytes: the manifest's checksums disagree. Another size: size_mismatch.
    api_put(client, area, "a.fastq", DATA["a.fastq"].replace(b"ACGT", b"ACGA"))
    api_put(client, area, "b.fastq", DATA["b.fastq"] + b"more")
    found, complete, _ = verdicts(client, area)
    assert (found, complete) == (
        {"a.fastq": "checksum_mismatch", "b.fastq": "size_mismatch", "dir/c.json": "verified"},
        False,
    )
    flips = events(context, area, NotificationType.AREA_COMPLETE, NotificationType.AREA_INCOMPLETE)
    assert [n.event_type for n in flips] == [NotificationType.AREA_COMPLETE, NotificationType.AREA_INCOMPLETE]
    # Sent by the first change that broke it: the new version of a.fastq, pending then.
    assert flips[1].target == "/messaging/areaIncomplete"
    assert (flips[1].payload["verdicts"]["verified"], flips[1].payload["verdicts"]["pending"]) == (2, 1)

    # A client's declared checksum that the bytes disagree with: corrupt.
    other = b'{"c": 2}'
    context.store.put(
        f"{area}/dir/c.json", io.BytesIO(other), size=len(other), metadata={"crc32c": "deadbeef"}
    )
    assert handle_record(context, messages.file_uploaded(area, "dir/c.json")) == [Outcome.CORRUPT]
    assert verdicts(client, area)[0]["dir/c.json"] == "corrupt"

    # A manifest that expects what is stored: complete again, announced once more.
    fixed = [entry("extra.txt", b"not expected")]
    assert put_manifest(client, area, fixed).json()["complete"] is True
    flips = events(context, area, NotificationType.AREA_COMPLETE, NotificationType.AREA_INCOMPLETE)
    assert [n.event_type.value for n in flips] == ["area_complete", "area_incomplete", "area_complete"]


def test_a_bad_manifest_is_refused_and_the_previous_one_stays(client: TestClient, area: str) -> None:
    put_manifest(client, area, [entry("a.fastq", DATA["a.fastq"])])
    duplicated = [entry("x", b"1"), entry("y", b"2"), entry("x", b"3"), entry("y", b"4"), entry("z", b"5")]
    problem = problem_of(put_manifest(client, area, duplicated))
    assert problem["status"] == 400
    assert "more than once: x, y" in problem["detail"]
    for bad, says in [
        ([{"name": "a", "size": -1}], "files[0].size"),
        ([{"name": "a", "size": 1.5}], "files[0].size"),
        ([entry("a", b"1"), {"name": "b", "size": 1, "sha256": "xyz"}], "files[1].sha256"),
        ([{"name": "a/../b", "size": 1}], "files[0].name"),
        ([{"name": f"{SERVICE_PREFIX}inventory.json", "size": 1}], "files[0].name"),
        ([{"name": "a", "size": 1, "md5": "x"}], "unknown fields: md5"),
        ([], "at least one file"),
    ]:
        response = put_manifest(client, area, bad)
        assert response.status_code == 400, bad
        assert says in problem_of(response)["detail"]
    response = client.put(f"/v2/areas/{area}/manifest", content=b'{"files": [{"name": "a", ', headers=AUTH)
    assert "not valid JSON" in problem_of(response)["detail"]
    assert client.put(f"/v2/areas/{area}/manifest", content=b"{}").status_code == 401
    assert verdicts(client, area)[0] == {"a.fastq": "missing"}
    assert client.get(f"/v2/areas/{uuid.uuid4()}/manifest", headers=AUTH).status_code == 404


def test_seal_waits_for_checksums_then_freezes_with_a_verifiable_inventory(
    client: TestClient, context: ApiContext, area: str
) -> None:
    api_put(client, area, "a.fastq", DATA["a.fastq"])
    api_put(client, area, "b.fastq", b"first version")
    api_put(client, area, "b.fastq", DATA["b.fastq"])
    store_write(context, area, "dir/c.json", DATA["dir/c.json"])
    run_id = claim_for_job(context, area, "dir/c.json")

    refused = client.post(f"/v2/areas/{area}/seal", headers=AUTH)
    assert refused.status_code == 409
    assert "still being checksummed: dir/c.json" in problem_of(refused)["detail"]
    job_reports(client, area, run_id, DATA["dir/c.json"])

    assert client.post(f"/v2/areas/{area}/seal").status_code == 401
    sealed = client.post(f"/v2/areas/{area}/seal", headers=AUTH)
    assert sealed.status_code == 200, sealed.text
    seal = sealed.json()
    assert client.post(f"/v2/areas/{area}/seal", headers=AUTH).json() == seal  # idempotent

    # The inventory as stored hashes to the sha256 the answer gives, and lists every file.
    key = seal["inventory"]["url"].removeprefix(context.store.url + "/")
    assert key.startswith(f"{area}/{SERVICE_PREFIX}inventory-")
    with context.store.open(key) as stored:
        raw = stored.read()
    assert hashlib.sha256(raw).hexdigest() == seal["inventory"]["sha256"]
    inventory = json.loads(raw)
    assert inventory["upload_area_id"] == area
    assert [(f["name"], f["size"], f["versions_replaced"]) for f in inventory["files"]] == [
        ("a.fastq", len(DATA["a.fastq"]), 0),
        ("b.fastq", len(DATA["b.fastq"]), 1),
        ("dir/c.json", len(DATA["dir/c.json"]), 0),
    ]
    assert inventory["files"][2]["checksums"] == reference_checksums(DATA["dir/c.json"])
    (note,) = events(context, area, NotificationType.AREA_SEALED)
    assert note.target == "/messaging/areaSealed"
    assert note.payload["inventory"]["sha256"] == seal["inventory"]["sha256"]
    assert note.payload["inventory"]["files"] == 3

    # Frozen: no writes, no credentials, no manifest, no unlock; a lock changes nothing; still readable.
    quoted = {"Content-Type": CONTENT_TYPE}
    assert client.put(f"/v1/area/{area}/new.txt", content=b"x", headers=AUTH | quoted).status_code == 409
    assert "sealed" in problem_of(client.post(f"/v1/area/{area}/credentials"))["detail"]
    assert put_manifest(client, area, [entry("a.fastq", DATA["a.fastq"])]).status_code == 409
    assert problem_of(client.delete(f"/v1/area/{area}/lock", headers=AUTH))["status"] == 409
    assert client.post(f"/v1/area/{area}/lock", headers=AUTH).status_code == 204
    assert client.get(f"/v1/area/{area}/a.fastq").status_code == 200
    with context.sessions() as session:
        row = session.scalars(select(UploadArea).where(UploadArea.uuid == area)).one()
        assert row.status is AreaStatus.SEALED
    # The inventory is the service's object, no file of the area: never recorded, its name refused,
    # and the checksum worker ignores its event.
    inventory_name = key.removeprefix(f"{area}/")
    assert handle_record(context, json.dumps(s3_event_body(key))) == []
    assert client.get(f"/v1/area/{area}/{inventory_name.replace('/', '%2F')}").status_code == 400
    with context.sessions() as session:
        names = session.scalars(select(FileVersion.name).where(FileVersion.area_id == row.id)).all()
        assert sorted(set(names)) == ["a.fastq", "b.fastq", "dir/c.json"]


def s3_event_body(key: str) -> dict[str, Any]:
    return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": key, "size": 1}}}]}
