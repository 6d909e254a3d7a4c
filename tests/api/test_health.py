"""`/version`, `/health`, `/v1/health`, the spec, the UI, and the 500 that shows only an error id."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from starlette.testclient import TestClient

import upload_api
from support.api_helpers import problem_of
from upload_api.app import create_app
from upload_api.context import ApiContext
from upload_common import boto_clients
from upload_common.db import make_engine
from upload_common.storage import S3ObjectStore


def test_version(client: TestClient) -> None:
    assert client.get("/version").json() == {"upload_service_version": upload_api.__version__}


@pytest.mark.parametrize("path", ["/health", "/v1/health"])
def test_health_checks_database_and_store(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "OK", "database": "ok", "storage": "ok"}


def test_health_is_503_when_the_database_is_down(api_context: ApiContext) -> None:
    down = dataclasses.replace(api_context, engine=make_engine("postgresql://nobody@127.0.0.1:1/none"))
    with create_app(down).test_client() as client:
        response = client.get("/v1/health")
    assert response.status_code == 503
    assert "database" in problem_of(response)["detail"]


def test_health_is_503_when_the_store_is_down(api_context: ApiContext) -> None:
    # A bucket that does not exist (in moto): every request to the store fails.
    down = dataclasses.replace(api_context, store=S3ObjectStore("no-such-bucket", boto_clients.client("s3")))
    with create_app(down).test_client() as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert "storage" in problem_of(response)["detail"]


def test_spec_and_ui_are_served(client: TestClient) -> None:
    spec = client.get("/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/v1/area/{upload_area_uuid}/{filename}" in spec["paths"]
    assert client.get("/v1/ui/").status_code == 200


def test_unexpected_error_shows_only_an_error_id(
    api_context: ApiContext, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(api_context)

    def boom() -> str:
        raise RuntimeError("secret internals")

    app.app.add_url_rule("/boom", view_func=boom)
    with caplog.at_level(logging.ERROR), app.test_client() as client:
        response = client.get("/boom")
    assert response.status_code == 500
    detail = problem_of(response)["detail"]
    assert "secret internals" not in response.text
    error_id = detail.removeprefix("error id ")
    assert any(error_id in record.getMessage() and record.exc_info for record in caplog.records)


def test_unknown_path_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v2/nothing")
    assert response.status_code == 404
