"""The deletion worker: objects deleted in batches, resumable, idempotent; rows kept, marked DELETED.
Deletion wins: objects that land while the area is deleted, or from a PUT that streamed meanwhile, are
deleted too."""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from support.api_helpers import drain, problem_of
from support.live_api import API_KEY as LIVE_API_KEY
from support.live_api import live_context, serving
from support.scratch_database import scratch_database
from upload_api.context import ApiContext
from upload_api.workers import deletion
from upload_api.workers.deletion import delete_area, handle_deletion_message
from upload_common import messages
from upload_common.models import FileVersion, UploadArea
from upload_common.storage import LocalObjectStore

MIB = 1024 * 1024


def _area_with_files(client: TestClient, auth: dict[str, str], api_context: ApiContext, count: int) -> str:
    area_uuid = str(uuid.uuid4())
    client.post(f"/v1/area/{area_uuid}", headers=auth)
    for i in range(3):
        put = client.put(
            f"/v1/area/{area_uuid}/api-{i}.json",
            headers={**auth, "Content-Type": "application/json; dcp-type=data"},
            content=b"{}",
        )
        assert put.status_code == 201
    for i in range(count - 3):
        api_context.store.put(f"{area_uuid}/dir/direct {i}.bin", io.BytesIO(b"x"))
    return area_uuid


def _status(api_context: ApiContext, area_uuid: str) -> str:
    with api_context.sessions() as session:
        return session.scalars(select(UploadArea.status).where(UploadArea.uuid == area_uuid)).one()


def test_worker_deletes_objects_and_keeps_rows(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    area_uuid = _area_with_files(client, auth, api_context, 12)
    neighbour = _area_with_files(client, auth, api_context, 4)
    assert client.delete(f"/v1/area/{area_uuid}", headers=auth).status_code == 202
    [body] = drain(api_context.queue("deletion"))
    handle_deletion_message(api_context, body)
    assert list(api_context.store.list(f"{area_uuid}/")) == []
    assert len(list(api_context.store.list(f"{neighbour}/"))) == 4
    assert _status(api_context, area_uuid) == "DELETED"
    with api_context.sessions() as session:
        area_id = session.scalars(select(UploadArea.id).where(UploadArea.uuid == area_uuid)).one()
        statuses = session.scalars(select(FileVersion.status).where(FileVersion.area_id == area_id)).all()
    assert statuses == ["DELETED"] * 3  # rows kept
    assert client.head(f"/v1/area/{area_uuid}").status_code == 404
    assert client.get(f"/v1/area/{area_uuid}/files").status_code == 404
    assert client.post(f"/v1/area/{area_uuid}", headers=auth).status_code == 409  # never revived
    # Redelivery of the same message changes nothing.
    handle_deletion_message(api_context, body)
    assert _status(api_context, area_uuid) == "DELETED"


def test_worker_resumes_after_running_out_of_time(
    client: TestClient, auth: dict[str, str], api_context: ApiContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    area_uuid = _area_with_files(client, auth, api_context, 10)
    client.delete(f"/v1/area/{area_uuid}", headers=auth)
    drain(api_context.queue("deletion"))
    monkeypatch.setattr(deletion, "DELETE_BATCH", 4)
    assert delete_area(api_context, area_uuid, time_left=lambda: 0.0) is False
    assert _status(api_context, area_uuid) == "DELETION_QUEUED"
    assert len(list(api_context.store.list(f"{area_uuid}/"))) == 6
    [body] = drain(api_context.queue("deletion"))
    assert json.loads(body) == {"type": "area_deletion", "area_uuid": area_uuid}
    handle_deletion_message(api_context, body)
    assert _status(api_context, area_uuid) == "DELETED"
    assert list(api_context.store.list(f"{area_uuid}/")) == []


def test_interrupted_run_is_resumed_by_the_redelivered_message(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    area_uuid = _area_with_files(client, auth, api_context, 5)
    client.delete(f"/v1/area/{area_uuid}", headers=auth)
    [body] = drain(api_context.queue("deletion"))
    # A worker that died mid-run left the area DELETING with some objects gone.
    with api_context.sessions.begin() as session:
        area = session.scalars(select(UploadArea).where(UploadArea.uuid == area_uuid)).one()
        area.status = "DELETING"  # type: ignore[assignment]
    api_context.store.delete_many([f"{area_uuid}/api-0.json"])
    handle_deletion_message(api_context, body)
    assert _status(api_context, area_uuid) == "DELETED"
    assert list(api_context.store.list(f"{area_uuid}/")) == []


def test_stale_message_for_an_area_not_queued_is_ignored(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    area_uuid = _area_with_files(client, auth, api_context, 3)
    assert delete_area(api_context, area_uuid) is False
    handle_deletion_message(api_context, messages.area_deletion(str(uuid.uuid4())))  # unknown area
    assert _status(api_context, area_uuid) == "UNLOCKED"
    assert len(list(api_context.store.list(f"{area_uuid}/"))) == 3


def test_objects_that_land_while_the_area_is_deleted_are_deleted_too(
    client: TestClient, auth: dict[str, str], api_context: ApiContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    area_uuid = _area_with_files(client, auth, api_context, 9)
    client.delete(f"/v1/area/{area_uuid}", headers=auth)
    [body] = drain(api_context.queue("deletion"))
    monkeypatch.setattr(deletion, "DELETE_BATCH", 4)
    landed: list[str] = []

    def time_left() -> float:  # called after each batch: another writer's object lands meanwhile
        if len(landed) < 2:
            landed.append(f"{area_uuid}/late-{len(landed)}.bin")
            api_context.store.put(landed[-1], io.BytesIO(b"late"))
        return 60.0

    handle_deletion_message(api_context, body, time_left=time_left)
    assert len(landed) == 2
    assert list(api_context.store.list(f"{area_uuid}/")) == []
    assert _status(api_context, area_uuid) == "DELETED"


# -- a PUT racing the area's DELETE, on a real server ------------------------------------------------

BODY_MIB = 48
GATE_MIB = 36  # the server has read well past its first 8 MiB (the area check) when the client pauses


@dataclass
class LiveApi:
    url: str
    context: ApiContext


@pytest.fixture
def live_api(postgres_url: str, tmp_path: Path) -> Iterator[LiveApi]:
    """The API under uvicorn on 127.0.0.1, on a database of its own (its requests commit)."""
    with scratch_database(postgres_url) as url:
        context = live_context(url, LocalObjectStore(tmp_path / "storage"))
        with serving(context) as (host, port):
            yield LiveApi(f"http://{host}:{port}", context)


def _gated_body(paused: threading.Event, resume: threading.Event) -> Iterator[bytes]:
    """BODY_MIB MiB that pause after GATE_MIB MiB until `resume`: the upload is mid-stream meanwhile."""
    chunk = b"x" * MIB
    for sent in range(BODY_MIB):
        if sent == GATE_MIB:
            paused.set()
            assert resume.wait(timeout=120)
        yield chunk


@pytest.mark.parametrize(
    ("deletion_ends_before_the_body", "expected"),
    [(True, 404), (False, 409)],
    ids=["area-deleted-while-streaming", "deletion-queued-while-streaming"],
)
def test_a_put_racing_the_delete_of_its_area_leaves_nothing_behind(
    live_api: LiveApi, deletion_ends_before_the_body: bool, expected: int
) -> None:
    area_uuid = str(uuid.uuid4())
    auth = {"Api-Key": LIVE_API_KEY}
    with httpx.Client(base_url=live_api.url, timeout=120) as http:
        assert http.post(f"/v1/area/{area_uuid}", headers=auth).status_code == 201
        paused, resume = threading.Event(), threading.Event()
        answers: list[httpx.Response] = []

        def put() -> None:
            answers.append(
                http.put(
                    f"/v1/area/{area_uuid}/big.bin",
                    content=_gated_body(paused, resume),
                    headers={
                        **auth,
                        "Content-Type": "application/octet-stream; dcp-type=data",
                        "Content-Length": str(BODY_MIB * MIB),
                    },
                )
            )

        uploader = threading.Thread(target=put)
        uploader.start()
        try:
            assert paused.wait(timeout=120)
            assert http.delete(f"/v1/area/{area_uuid}", headers=auth).status_code == 202
            [message] = drain(live_api.context.queue("deletion"))
            if deletion_ends_before_the_body:
                handle_deletion_message(live_api.context, message)
        finally:
            resume.set()
            uploader.join(timeout=120)
        [answer] = answers
        assert answer.status_code == expected, answer.text
        problem_of(answer)
        if not deletion_ends_before_the_body:
            handle_deletion_message(live_api.context, message)
    assert list(live_api.context.store.list(f"{area_uuid}/")) == []
    assert _status(live_api.context, area_uuid) == "DELETED"
