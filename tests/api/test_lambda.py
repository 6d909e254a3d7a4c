"""The Lambda entry points: API Gateway HTTP API events through Mangum, SQS batches with partial failure."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from typing import Any

import pytest

from upload_api import lambda_handlers as lambda_entry
from upload_api.context import ApiContext
from upload_common import boto_clients, messages
from upload_common.storage import S3ObjectStore


class FakeLambdaContext:
    """The attributes of AWS's Lambda context object that the handlers read."""

    function_name = "upload-api"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int = 600_000) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def http_event(
    method: str, raw_path: str, decoded_path: str, headers: dict[str, str], body: bytes = b""
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {"method": method, "path": decoded_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "domainName": "api.example",
            "stage": "$default",
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


@pytest.fixture
def lambda_context_of(api_context: ApiContext, monkeypatch: pytest.MonkeyPatch) -> ApiContext:
    lambda_entry._context.cache_clear()
    lambda_entry._asgi_handler.cache_clear()
    monkeypatch.setattr(lambda_entry, "_context", lambda: api_context)
    yield api_context
    lambda_entry._asgi_handler.cache_clear()


def test_api_gateway_event_keeps_an_encoded_slash_inside_the_name(lambda_context_of: ApiContext) -> None:
    area = str(uuid.uuid4())
    created = lambda_entry.api_handler(
        http_event("POST", f"/v1/area/{area}", f"/v1/area/{area}", {"api-key": "test-api-key"}),
        FakeLambdaContext(),
    )
    assert created["statusCode"] == 201
    stored = lambda_entry.api_handler(
        http_event(
            "PUT",
            f"/v1/area/{area}/dir%2Fa%20b.json",
            f"/v1/area/{area}/dir/a b.json",
            {"api-key": "test-api-key", "content-type": "application/json; dcp-type=data"},
            b"{}",
        ),
        FakeLambdaContext(),
    )
    assert stored["statusCode"] == 201, stored
    info = json.loads(stored["body"])
    assert (info["name"], info["size"]) == ("dir/a b.json", 2)


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("data.bin", "application/octet-stream; dcp-type=data", b"x" * 10),
        ("data.bin", "application/octet-stream; dcp-type=data", b"x" * 12),
        ("validate", "application/json", b'{"validator_image": "i", "files": []}'),
    ],
    ids=["file-shorter", "file-longer", "json-longer"],
)
def test_a_body_whose_length_differs_from_its_content_length_is_refused(
    lambda_context_of: ApiContext, path: str, content_type: str, body: bytes
) -> None:
    """API Gateway hands over the whole body; its declared Content-Length must still match it."""
    area = str(uuid.uuid4())
    headers = {"api-key": "test-api-key", "content-type": "application/octet-stream; dcp-type=data"}
    lambda_entry.api_handler(
        http_event("POST", f"/v1/area/{area}", f"/v1/area/{area}", headers), FakeLambdaContext()
    )
    put = lambda_entry.api_handler(
        http_event("PUT", f"/v1/area/{area}/data.bin", f"/v1/area/{area}/data.bin", headers, b"good"),
        FakeLambdaContext(),
    )
    assert put["statusCode"] == 201

    declared = {**headers, "content-type": content_type, "content-length": "11"}
    response = lambda_entry.api_handler(
        http_event("PUT", f"/v1/area/{area}/{path}", f"/v1/area/{area}/{path}", declared, body),
        FakeLambdaContext(),
    )

    assert response["statusCode"] == 400, response
    problem = json.loads(
        base64.b64decode(response["body"]) if response["isBase64Encoded"] else response["body"]
    )
    assert "Content-Length says 11" in problem["detail"]
    with lambda_context_of.store.open(f"{area}/data.bin") as stream:
        assert stream.read() == b"good"


def test_deletion_batch_reports_only_the_failed_records(
    lambda_context_of: ApiContext, client: Any, auth: dict[str, str]
) -> None:
    done, failing = str(uuid.uuid4()), str(uuid.uuid4())
    for area in (done, failing):
        client.post(f"/v1/area/{area}", headers=auth)
        client.delete(f"/v1/area/{area}", headers=auth)
    event = {
        "Records": [
            {"messageId": "ok", "body": messages.area_deletion(done)},
            {
                "messageId": "malformed",
                "body": "not json",
            },  # dropped at once, not retried until dead-lettered
        ]
    }
    assert lambda_entry.deletion_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    assert client.head(f"/v1/area/{done}").status_code == 404
    # The store fails (a bucket that does not exist): the record is reported for redelivery.
    lambda_context_of.store = S3ObjectStore("no-such-bucket", boto_clients.client("s3"))
    event = {"Records": [{"messageId": "broken", "body": messages.area_deletion(failing)}]}
    assert lambda_entry.deletion_handler(event, FakeLambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": "broken"}]
    }


def test_on_lambda_the_client_address_is_the_gateway_s_source_ip(
    api_context: ApiContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The middleware runs per container; API Gateway's `sourceIp` (not a header) names the client."""
    limited = dataclasses.replace(
        api_context,
        settings=api_context.settings.model_copy(
            update={
                "rate_limit_client_per_minute": 1,
                "rate_limit_client_burst": 1,
                "rate_limit_area_per_minute": 0,
            }
        ),
    )
    lambda_entry._asgi_handler.cache_clear()
    monkeypatch.setattr(lambda_entry, "_context", lambda: limited)

    def notify(source_ip: str, forwarded_for: str) -> dict[str, Any]:
        area = str(uuid.uuid4())
        event = http_event(
            "POST", f"/v1/area/{area}/x", f"/v1/area/{area}/x", {"x-forwarded-for": forwarded_for}
        )
        event["requestContext"]["http"]["sourceIp"] = source_ip
        answer: dict[str, Any] = lambda_entry.api_handler(event, FakeLambdaContext())
        return answer

    try:
        assert notify("198.51.100.1", "203.0.113.1")["statusCode"] == 404
        refused = notify("198.51.100.1", "203.0.113.2")
        assert refused["statusCode"] == 429
        assert refused["headers"]["retry-after"] == "60"
        assert notify("198.51.100.2", "203.0.113.1")["statusCode"] == 404
    finally:
        lambda_entry._asgi_handler.cache_clear()
