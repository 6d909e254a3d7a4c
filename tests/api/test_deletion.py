"""The deletion worker: objects deleted in batches, resumable, idempotent; rows kept, marked DELETED."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from support.api_helpers import drain
from upload_api.context import ApiContext
from upload_api.workers import deletion
from upload_api.workers.deletion import delete_area, handle_deletion_message
from upload_common import messages
from upload_common.models import FileVersion, UploadArea


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
