"""`deploy.migrate`: the report of the apply's migration, and the fallback invocation when the apply made none.

moto cannot run Lambda code (it needs Docker), so the fallback's Lambda client is botocore's own Stubber:
it checks the request the deploy command sends and returns what Lambda would.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from terraform.tfhelpers import REPO_ROOT

# The deploy command is a folder of the repository, not an installed package.
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

from deploy.migrate import migrate

REPORT = {"from_revision": "0002", "to_revision": "0003", "applied": ["0003"], "rds_iam_roles": []}


def _outputs(migration: str | None) -> dict[str, Any]:
    return {
        "database_migration": {"value": migration},
        "migration_function_name": {"value": "upload-dev-migrate"},
    }


def _lambda(payload: str, function_error: str | None = None) -> tuple[Any, Stubber]:
    client = boto3.client("lambda", region_name="us-east-1")
    stubber = Stubber(client)
    body = payload.encode()
    response: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error:
        response["FunctionError"] = function_error
    expected = {"FunctionName": "upload-dev-migrate", "InvocationType": "RequestResponse"}
    stubber.add_response("invoke", response, expected)
    return client, stubber


def test_the_apply_s_migration_is_reported_without_invoking_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, stubber = _lambda("{}")
    with stubber:
        assert migrate(_outputs(json.dumps(REPORT)), client) == REPORT
    assert capsys.readouterr().out == "database at 0003 (was 0002; applied: 0003)\n"
    with pytest.raises(AssertionError):
        stubber.assert_no_pending_responses()  # the invocation was never made


def test_without_the_apply_s_migration_the_function_is_invoked() -> None:
    client, stubber = _lambda(json.dumps(REPORT))
    with stubber:
        assert migrate(_outputs(None), client) == REPORT
    stubber.assert_no_pending_responses()


def test_a_failed_migration_stops_the_deploy() -> None:
    client, stubber = _lambda('{"errorMessage": "relation file does not exist"}', "Unhandled")
    with stubber, pytest.raises(SystemExit, match="database migration failed in upload-dev-migrate"):
        migrate(_outputs(None), client)
