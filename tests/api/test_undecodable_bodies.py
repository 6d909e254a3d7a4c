"""A JSON body that is no text (invalid UTF-8; escapes of unpaired surrogates, or of NUL, which no text
column stores) is the caller's mistake: 400 problem+json on every route that takes a JSON body, never 500."""

from __future__ import annotations

import time
import uuid
from importlib.resources import files
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from support.api_helpers import problem_of
from upload_api.app import SPEC_FILE
from upload_common.callback_tokens import job_token

SPEC = yaml.safe_load((files("upload_api") / "openapi" / SPEC_FILE).read_text(encoding="utf-8"))
JSON_ROUTES = [
    (method.upper(), path)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if isinstance(operation, dict)
    and "application/json" in operation.get("requestBody", {}).get("content", {})
]
# A JSON string that is no text, spelled in the body's bytes.
BAD_STRINGS = {
    "invalid UTF-8": b'"a\xff"',
    "truncated UTF-8": b'"a\xc3"',
    "unpaired surrogate": b'"a\\ud800"',
    "NUL": b'"a\\u0000"',
}


def test_the_spec_has_the_json_routes_this_test_expects() -> None:
    # A new JSON route must be listed here once `body_with` gives it a body it would otherwise accept.
    assert sorted(JSON_ROUTES) == sorted(
        [
            ("POST", "/v1/area/{upload_area_uuid}"),
            ("PUT", "/v1/area/{upload_area_uuid}/files_info"),
            ("PUT", "/v1/area/{upload_area_uuid}/validate"),
            ("PUT", "/v1/area/{upload_area_uuid}/{filename}/validate"),
            ("POST", "/v1/area/{upload_area_uuid}/update_checksum/{record_id}"),
            ("POST", "/v1/area/{upload_area_uuid}/update_validation/{record_id}"),
            ("PATCH", "/v2/areas/{upload_area_uuid}"),
            ("PUT", "/v2/areas/{upload_area_uuid}/manifest"),
            ("POST", "/v2/areas/{upload_area_uuid}/submitter-links"),
            ("POST", "/v2/areas/{upload_area_uuid}/uploads"),
        ]
    )


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES, ids=[f"{m} {p}" for m, p in JSON_ROUTES])
@pytest.mark.parametrize("kind", list(BAD_STRINGS))
def test_an_undecodable_json_body_is_400(
    client: TestClient, auth: dict[str, str], method: str, path: str, kind: str
) -> None:
    area, record = str(uuid.uuid4()), str(uuid.uuid4())
    assert client.post(f"/v1/area/{area}", headers=auth).status_code == 201
    url = path.format(upload_area_uuid=area, filename="a", record_id=record)
    body = body_with(path, BAD_STRINGS[kind])
    headers = {**auth, **callback_auth(path, record), "Content-Type": "application/json"}

    response = client.request(method, url, content=body, headers=headers)

    assert response.status_code == 400, response.text
    problem_of(response)


def body_with(path: str, string: bytes) -> bytes:
    """A body the route would otherwise accept, with `string` where the route takes a string."""
    if path.endswith("/files_info"):
        return b"[" + string + b"]"
    if path.endswith("/{filename}/validate"):
        return b'{"validator_image": ' + string + b"}"
    if path.endswith("/validate"):
        return b'{"validator_image": "image", "files": [' + string + b"]}"
    if path.endswith("/uploads"):  # an upload session's file name
        return b'{"name": ' + string + b', "size": 1}'
    return b'{"status": ' + string + b"}"  # a job's report


def callback_auth(path: str, record: str) -> dict[str, Any]:
    """The job token a report about `record` needs (the callbacks check it before reading the body)."""
    for kind in ("checksum", "validation"):
        if f"update_{kind}" in path:
            token = job_token("test-server-secret", kind, record, int(time.time()) + 3600)  # type: ignore[arg-type]
            return {"Authorization": f"Bearer {token}"}
    return {}
