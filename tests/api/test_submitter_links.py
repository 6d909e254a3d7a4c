"""Submitter links (issue 18): `POST /v2/areas/{uuid}/submitter-links` and the `Submitter-Link` header on
the area's upload sessions, on the real app and PostgreSQL: what a link may do, and every way it stops."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from support.api_helpers import problem_of
from upload_api.app import create_app
from upload_api.context import ApiContext
from upload_api.rate_limits import Limit, RateLimiter
from upload_common.domain.submitter_links import LinkCheck, check_link, issue_link
from upload_common.models import UploadArea
from upload_common.statuses import AreaStatus

SECRET = "test-server-secret"  # the api_context fixture's


def new_area(client: TestClient, auth: dict[str, str]) -> str:
    area = str(uuid.uuid4())
    assert client.post(f"/v1/area/{area}", headers=auth).status_code == 201
    return area


def link_for(client: TestClient, auth: dict[str, str], area: str, **body: int) -> str:
    response = client.post(f"/v2/areas/{area}/submitter-links", headers=auth, json=body or None)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def start_session(client: TestClient, area: str, headers: dict[str, str], name: str = "r1.fastq") -> Any:
    return client.post(f"/v2/areas/{area}/uploads", headers=headers, json={"name": name, "size": 11})


def test_a_link_is_a_url_with_the_token_in_its_fragment(client: TestClient, auth: dict[str, str]) -> None:
    area = new_area(client, auth)
    before = datetime.now(UTC)

    response = client.post(f"/v2/areas/{area}/submitter-links", headers=auth)

    assert response.status_code == 201
    body = response.json()
    assert body["url"] == f"http://testserver/v2/areas/{area}/page#link={body['token']}"
    expires = datetime.fromisoformat(body["expires_at"])
    assert body["expires_at"].endswith("Z")
    # The default lifetime: UPLOAD_SUBMITTER_LINK_TTL_SECONDS, 7 days.
    assert timedelta(days=7) - timedelta(seconds=5) <= expires - before <= timedelta(days=7, seconds=5)
    assert check_link(SECRET, area, body["token"]) is LinkCheck.VALID

    short = client.post(f"/v2/areas/{area}/submitter-links", headers=auth, json={"ttl_seconds": 3600}).json()
    assert datetime.fromisoformat(short["expires_at"]) - before < timedelta(seconds=3605)


def test_making_a_link_takes_the_api_key_a_known_area_and_a_sane_lifetime(
    client: TestClient, auth: dict[str, str]
) -> None:
    area = new_area(client, auth)
    assert problem_of(client.post(f"/v2/areas/{area}/submitter-links"))["status"] == 401
    token = link_for(client, auth, area)
    # A link cannot make links: that route takes the Api-Key alone.
    refused = client.post(f"/v2/areas/{area}/submitter-links", headers={"Submitter-Link": token})
    assert problem_of(refused)["status"] == 401
    too_long = client.post(
        f"/v2/areas/{area}/submitter-links", headers=auth, json={"ttl_seconds": 31 * 86400}
    )
    assert problem_of(too_long)["status"] == 400
    unknown = client.post(f"/v2/areas/{uuid.uuid4()}/submitter-links", headers=auth)
    assert problem_of(unknown)["status"] == 404


def test_a_link_starts_a_session_and_reads_its_status(client: TestClient, auth: dict[str, str]) -> None:
    area = new_area(client, auth)
    link = {"Submitter-Link": link_for(client, auth, area)}

    created = start_session(client, area, link)

    assert created.status_code == 201, created.text
    session = created.json()
    read = client.get(f"/v2/areas/{area}/uploads/{session['id']}", headers=link)
    assert read.status_code == 200
    assert read.json()["status"] == "OPEN"
    assert [s["id"] for s in client.get(f"/v2/areas/{area}/uploads", headers=link).json()["uploads"]] == [
        session["id"]
    ]
    # The Api-Key still works on the same routes.
    assert client.get(f"/v2/areas/{area}/uploads/{session['id']}", headers=auth).status_code == 200
    assert start_session(client, area, auth, name="r2.fastq").status_code == 201


def test_a_tampered_expired_or_missing_link_is_401(client: TestClient, auth: dict[str, str]) -> None:
    area = new_area(client, auth)
    token = link_for(client, auth, area)
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    later_expiry = token.replace(token.split(".")[1], str(int(token.split(".")[1]) + 86400))
    expired = issue_link(SECRET, area, 60, now=time.time() - 120).token
    other_secret = issue_link("another-secret", area, 3600).token

    for bad, detail in [
        (flipped, "not valid"),
        (later_expiry, "not valid"),
        (other_secret, "not valid"),
        ("garbage", "not valid"),
        (expired, "expired"),
    ]:
        response = client.get(f"/v2/areas/{area}/uploads", headers={"Submitter-Link": bad})
        problem = problem_of(response)
        assert problem["status"] == 401, bad
        assert detail in problem["detail"]
    assert problem_of(client.get(f"/v2/areas/{area}/uploads"))["status"] == 401


def test_another_area_s_link_is_403(client: TestClient, auth: dict[str, str]) -> None:
    mine, theirs = new_area(client, auth), new_area(client, auth)
    token = link_for(client, auth, theirs)

    problem = problem_of(client.get(f"/v2/areas/{mine}/uploads", headers={"Submitter-Link": token}))

    assert problem["status"] == 403
    assert "another upload area" in problem["detail"]


def test_a_locked_area_s_link_cannot_start_a_session_until_it_is_unlocked(
    client: TestClient, auth: dict[str, str]
) -> None:
    area = new_area(client, auth)
    link = {"Submitter-Link": link_for(client, auth, area)}
    assert client.post(f"/v1/area/{area}/lock", headers=auth).status_code == 204

    # 403: the link itself stops working (it checks the area's state at every use), so even reads are
    # refused, with a detail saying why. The Api-Key is still good and meets the area's own rule: 409.
    refused = problem_of(start_session(client, area, link))
    assert refused["status"] == 403
    assert "is locked" in refused["detail"]
    assert problem_of(client.get(f"/v2/areas/{area}/uploads", headers=link))["status"] == 403
    assert problem_of(start_session(client, area, auth))["status"] == 409

    assert client.delete(f"/v1/area/{area}/lock", headers=auth).status_code == 204
    assert start_session(client, area, link).status_code == 201


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"status": AreaStatus.DELETION_QUEUED}, "being deleted"),
        ({"status": AreaStatus.DELETED}, "was deleted"),
        ({"status": AreaStatus.SEALED}, "sealed"),
        ({"expires_at": datetime.now(UTC) - timedelta(minutes=1)}, "expired"),
    ],
)
def test_deletion_seal_and_expiry_stop_a_link_at_once(
    client: TestClient, auth: dict[str, str], api_context: ApiContext, change: dict[str, object], detail: str
) -> None:
    area = new_area(client, auth)
    link = {"Submitter-Link": link_for(client, auth, area)}
    assert client.get(f"/v2/areas/{area}/uploads", headers=link).status_code == 200
    with api_context.sessions.begin() as session:
        session.execute(update(UploadArea).where(UploadArea.uuid == area).values(**change))

    problem = problem_of(client.get(f"/v2/areas/{area}/uploads", headers=link))

    assert problem["status"] == 403
    assert detail in problem["detail"]


def test_no_link_for_an_area_that_will_not_take_files_again(
    client: TestClient, auth: dict[str, str], api_context: ApiContext
) -> None:
    locked, sealed = new_area(client, auth), new_area(client, auth)
    assert client.post(f"/v1/area/{locked}/lock", headers=auth).status_code == 204
    with api_context.sessions.begin() as session:
        session.execute(update(UploadArea).where(UploadArea.uuid == sealed).values(status=AreaStatus.SEALED))
    # A locked area gets one (it works once the area is unlocked); a sealed one never takes files again.
    assert client.post(f"/v2/areas/{locked}/submitter-links", headers=auth).status_code == 201
    problem = problem_of(client.post(f"/v2/areas/{sealed}/submitter-links", headers=auth))
    assert (problem["status"], "sealed" in problem["detail"]) == (409, True)


def test_link_requests_are_rate_limited_like_other_open_requests(
    api_context: ApiContext, auth: dict[str, str]
) -> None:
    limiter = RateLimiter(Limit(60, 2), Limit(0, 1), clock=lambda: 1000.0)
    with create_app(api_context, rate_limiter=limiter).test_client() as client:
        area = new_area(client, auth)
        link = {"Submitter-Link": link_for(client, auth, area)}
        assert [client.get(f"/v2/areas/{area}/uploads", headers=link).status_code for _ in range(2)] == [
            200,
            200,
        ]

        refused = client.get(f"/v2/areas/{area}/uploads", headers=link)
        assert refused.status_code == 429
        assert "from your address" in problem_of(refused)["detail"]
        # A forged link costs the same (guessing tokens is limited too); the Api-Key is never limited.
        assert client.get(f"/v2/areas/{area}/uploads", headers={"Submitter-Link": "x"}).status_code == 429
        assert client.get(f"/v2/areas/{area}/uploads", headers=auth).status_code == 200
