"""Upload areas through the API: create, look up, lock, delete, credentials, and authentication."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient

from support.api_helpers import drain, problem_of
from support.sts_refusal import ABOVE_MAX_SESSION_DURATION, sts_refusing
from upload_api.context import ApiContext
from upload_api.workers.deletion import handle_deletion_message
from upload_common.credentials import StsCredentialIssuer


def new_area() -> str:
    return str(uuid.uuid4())


def test_create_returns_the_uri_and_is_idempotent(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    area = new_area()
    first = client.post(f"/v1/area/{area}", headers=auth)
    assert first.status_code == 201
    assert first.json() == {"uri": f"{api_context.store.url}/{area}/"}
    again = client.post(f"/v1/area/{area}", headers=auth)
    assert (again.status_code, again.json()) == (201, first.json())


def test_head_tells_whether_the_area_exists(client: TestClient, auth: dict[str, str]) -> None:
    area = new_area()
    assert client.head(f"/v1/area/{area}").status_code == 404
    client.post(f"/v1/area/{area}", headers=auth)
    assert client.head(f"/v1/area/{area}").status_code == 200


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-uuid",
        "deadbeef-dead-dead-dead-deaddeadbeef-extra",
        "xdeadbeef-dead-dead-dead-deaddeadbeef",
        "dead%20beef",
    ],
)
def test_malformed_area_id_is_a_400_problem(client: TestClient, auth: dict[str, str], bad: str) -> None:
    response = client.post(f"/v1/area/{bad}", headers=auth)
    assert response.status_code == 400
    assert "upload_area_uuid" in problem_of(response).get("detail", "") or problem_of(response)["title"]


def test_seed_style_alphanumeric_ids_are_accepted(client: TestClient, auth: dict[str, str]) -> None:
    # The seed's pattern allows any letters and digits, e.g. the functional tests' deadbeef-... ids.
    assert client.post("/v1/area/deadbeef-dead-dead-dead-zz0123456789", headers=auth).status_code == 201


@pytest.mark.parametrize(
    "headers", [{}, {"Api-Key": "wrong"}, {"Api-Key": ""}, {"api-key": "test-api-key-x"}]
)
def test_missing_or_wrong_key_is_401(client: TestClient, headers: dict[str, str]) -> None:
    area = new_area()
    for method in ("post", "delete"):
        response = getattr(client, method)(f"/v1/area/{area}", headers=headers)
        assert response.status_code == 401
        problem_of(response)
    assert client.head(f"/v1/area/{area}").status_code == 404  # nothing was created


def test_every_configured_key_is_accepted(client: TestClient) -> None:
    assert client.post(f"/v1/area/{new_area()}", headers={"Api-Key": "second-key"}).status_code == 201


def test_delete_queues_the_area_once_per_request(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    area = new_area()
    client.post(f"/v1/area/{area}", headers=auth)
    response = client.delete(f"/v1/area/{area}", headers=auth)
    assert response.status_code == 202
    assert response.json() == {"area_uuid": area, "status": "DELETION_QUEUED"}
    bodies = [json.loads(body) for body in drain(api_context.queue("deletion"))]
    assert bodies == [{"type": "area_deletion", "area_uuid": area}]
    assert client.head(f"/v1/area/{area}").status_code == 200  # still there until the worker is done


def test_delete_of_unknown_area_is_404(client: TestClient, auth: dict[str, str]) -> None:
    response = client.delete(f"/v1/area/{new_area()}", headers=auth)
    assert response.status_code == 404
    assert "no upload area" in problem_of(response)["detail"]


def test_lock_and_unlock(client: TestClient, auth: dict[str, str]) -> None:
    area = new_area()
    client.post(f"/v1/area/{area}", headers=auth)
    assert client.post(f"/v1/area/{area}/lock", headers=auth).status_code == 204
    assert client.post(f"/v1/area/{area}/lock", headers=auth).status_code == 204  # idempotent
    put = client.put(
        f"/v1/area/{area}/x.json",
        headers={**auth, "Content-Type": "application/json; dcp-type=data"},
        content=b"{}",
    )
    assert put.status_code == 409
    assert "locked" in problem_of(put)["detail"]
    assert client.post(f"/v1/area/{area}/credentials").status_code == 409
    assert client.delete(f"/v1/area/{area}/lock", headers=auth).status_code == 204
    put = client.put(
        f"/v1/area/{area}/x.json",
        headers={**auth, "Content-Type": "application/json; dcp-type=data"},
        content=b"{}",
    )
    assert put.status_code == 201


def test_lock_needs_a_key_and_an_area(client: TestClient, auth: dict[str, str]) -> None:
    assert client.post(f"/v1/area/{new_area()}/lock").status_code == 401
    assert client.post(f"/v1/area/{new_area()}/lock", headers=auth).status_code == 404


def test_credentials_are_not_offered_by_the_embedded_default(
    client: TestClient, auth: dict[str, str]
) -> None:
    area = new_area()
    client.post(f"/v1/area/{area}", headers=auth)
    response = client.post(f"/v1/area/{area}/credentials")
    assert response.status_code == 403
    assert f"PUT /v1/area/{area}/<filename>" in problem_of(response)["detail"]


def test_credentials_for_unknown_area_is_404(client: TestClient) -> None:
    assert client.post(f"/v1/area/{new_area()}/credentials").status_code == 404


def _sts_issuer(api_context: ApiContext, sts: Any = None, duration_seconds: int = 900) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(
        RoleName="submitter",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]["Arn"]
    api_context.credential_issuer = StsCredentialIssuer(
        role,
        "upload-bucket",
        sts or boto3.client("sts", region_name="us-east-1"),
        duration_seconds=duration_seconds,
    )


def test_credentials_from_sts(client: TestClient, auth: dict[str, str], api_context: ApiContext) -> None:
    _sts_issuer(api_context)
    area = new_area()
    client.post(f"/v1/area/{area}", headers=auth)
    response = client.post(f"/v1/area/{area}/credentials")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert body["Expiration"].endswith(("+00:00", "Z"))


def test_a_refresh_is_refused_once_the_area_is_locked_or_deleted(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    """Clients refresh credentials before `Expiration` by asking again: the same check as the first time."""
    _sts_issuer(api_context)
    area = new_area()
    client.post(f"/v1/area/{area}", headers=auth)
    first = client.post(f"/v1/area/{area}/credentials")
    refreshed = client.post(f"/v1/area/{area}/credentials")
    assert (first.status_code, refreshed.status_code) == (201, 201)
    assert refreshed.json()["AccessKeyId"] != first.json()["AccessKeyId"]

    client.post(f"/v1/area/{area}/lock", headers=auth)
    locked = client.post(f"/v1/area/{area}/credentials")
    assert locked.status_code == 409
    assert "locked" in problem_of(locked)["detail"]
    client.delete(f"/v1/area/{area}/lock", headers=auth)
    assert client.post(f"/v1/area/{area}/credentials").status_code == 201

    assert client.delete(f"/v1/area/{area}", headers=auth).status_code == 202
    being_deleted = client.post(f"/v1/area/{area}/credentials")
    assert being_deleted.status_code == 409
    assert "being deleted" in problem_of(being_deleted)["detail"]
    [message] = drain(api_context.queue("deletion"))
    handle_deletion_message(api_context, message)
    deleted = client.post(f"/v1/area/{area}/credentials")
    assert deleted.status_code == 404
    assert "no upload area" in problem_of(deleted)["detail"]


def test_a_duration_the_role_cannot_grant_is_a_500_that_says_what_to_configure(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    sts = sts_refusing(ABOVE_MAX_SESSION_DURATION)
    _sts_issuer(api_context, sts, duration_seconds=3600)
    area = new_area()
    client.post(f"/v1/area/{area}", headers=auth)

    response = client.post(f"/v1/area/{area}/credentials")

    assert response.status_code == 500
    detail = problem_of(response)["detail"]
    assert "UPLOAD_CREDENTIALS_DURATION_SECONDS" in detail
    assert "3600" in detail
    assert "arn:" not in detail
