"""Start-up's Secrets Manager reads: every function of the stage builds its service parts
(`service_context.service_parts`, as each Lambda entry point does) from the environment Terraform gives
it, the `*_SECRET_ARN` settings included, under its own role; the secrets are created in the emulator
with the stage's names and ARNs. The job roles and the issued credentials' roles read no secret."""

from __future__ import annotations

import json
import os
from typing import Any

import botocore.exceptions
import pytest
from sqlalchemy import Engine, make_url

from iam.conftest import component_settings, role_client, use_role
from iam.emulator import StageIam, calls_of_this_test, enforced, provision_secrets, record_component
from upload_common.service_context import service_parts

pytestmark = pytest.mark.slow  # the applied Terraform stage it needs takes minutes (once per session)

API_KEYS = ["startup-key-1", "startup-key-2"]
SECRET_KEY = "startup-server-secret"
INGEST_SECRET = "whsec_c3RhcnR1cC1pbmdlc3Qtc2VjcmV0"
HEALTH_WEBHOOK = "upload-local/health-webhook-url"  # the health report's (when the stage defines it)
HEALTH_WEBHOOK_URL = "https://hooks.example.org/services/startup"
# Each function of the local stage, by the component name of the summary table.
COMPONENTS = {
    "upload-local-api": "api",
    "upload-local-checksum": "checksum worker (inline)",
    "upload-local-checksum-reaper": "checksum reaper",
    "upload-local-deletion": "deletion worker",
    "upload-local-dispatcher": "dispatcher",
    "upload-local-reconcile": "reconcile",
    "upload-local-scheduler": "validation scheduler",
    "upload-local-validation-sweep": "validation sweep",
    "upload-local-migrate": "migration function",
    "upload-local-health-report": "health report",
}
MIGRATION_FUNCTION = "upload-local-migrate"


def database_users(role: Any) -> set[str]:
    """The database roles `role` may log in as with IAM (the users of its rds-db:connect resources)."""
    users: set[str] = set()
    for document in role.inline.values():
        statements = json.loads(document)["Statement"]
        for statement in [statements] if isinstance(statements, dict) else statements:
            if statement.get("Effect") == "Allow" and "rds-db:connect" in str(statement.get("Action")):
                resources = statement["Resource"]
                resources = [resources] if isinstance(resources, str) else resources
                users.update(resource.rsplit("/", 1)[1] for resource in resources)
    return users


def database_password(database_url: str) -> str:
    """The test database's password (any, when it trusts its local connections)."""
    return make_url(database_url).password or "startup-database-password"


def stage_secrets(stage: StageIam, database_url: str) -> dict[str, str]:
    """The values an operator (or RDS, for the database's) puts into the stage's secrets."""
    url = make_url(database_url)
    (database,) = [name for name in stage.secrets if name.startswith("rds!")]
    return {
        database: json.dumps({"username": url.username, "password": database_password(database_url)}),
        "upload-local/api-keys": json.dumps(API_KEYS),
        "upload-local/ingest-secret": INGEST_SECRET,
        "upload-local/secret-key": SECRET_KEY,
    } | ({HEALTH_WEBHOOK: HEALTH_WEBHOOK_URL} if HEALTH_WEBHOOK in stage.secrets else {})


def test_each_function_reads_its_secrets_at_start_up(
    aws: StageIam, monkeypatch: pytest.MonkeyPatch, postgres_engine: Engine
) -> None:
    database_url = postgres_engine.url.render_as_string(hide_password=False)
    values = stage_secrets(aws, database_url)
    arns = provision_secrets(aws, values)
    expected = {arns[name]: value for name, value in values.items()}
    for function, environment in aws.environments.items():
        for name in [n for n in os.environ if n.startswith("UPLOAD_")]:
            monkeypatch.delenv(name)
        role = aws.role_of(function)
        record_component(COMPONENTS.get(function, function.removeprefix("upload-local-")), role)
        settings = component_settings(aws, function, monkeypatch, database_url, secret_arns=True)
        named = {v for n, v in environment.items() if n.endswith("_SECRET_ARN")}
        assert named <= set(arns.values()), f"{function} names a secret the stage does not define"
        use_role(role, monkeypatch)
        with enforced():
            parts = service_parts(settings)
        loaded: Any = parts["settings"]
        parts["engine"].dispose()  # type: ignore[attr-defined]
        read = {c.resource for c in calls_of_this_test() if c.role == role.name and c.allowed}
        assert read == named, function
        if settings.api_keys_secret_arn:
            assert [key.get_secret_value() for key in loaded.api_keys] == API_KEYS, function
        if settings.ingest_secret_arn:
            assert loaded.ingest_secret.get_secret_value() == INGEST_SECRET, function
        if settings.secret_key_secret_arn:
            assert parts["secret_key"] == expected[settings.secret_key_secret_arn], function
        if settings.health_webhook_url_secret_arn:
            assert loaded.health_webhook_url.get_secret_value() == HEALTH_WEBHOOK_URL, function
        if settings.database_secret_arn:
            assert make_url(loaded.database_url).password == database_password(database_url), function
        # IAM database authentication: the role may log in as exactly the database user it is told.
        expected_users = {loaded.database_user} if loaded.database_iam_auth else set()
        assert database_users(role) == expected_users, function
    assert "upload-local-api" in aws.environments
    # The migration function alone logs in as the owner, with the master secret (no IAM user).
    migration = aws.environments[MIGRATION_FUNCTION]
    assert migration["UPLOAD_DATABASE_SECRET_ARN"] in arns.values()
    assert "UPLOAD_DATABASE_IAM_AUTH" not in migration
    assert [c for c in calls_of_this_test() if not c.allowed] == []


@pytest.mark.parametrize(
    "prefix", ["upload-local-checksum-job-", "upload-local-validation-job-", "upload-local-staging-"]
)
def test_the_jobs_and_the_staging_role_read_no_secret(
    aws: StageIam, postgres_engine: Engine, prefix: str
) -> None:
    database_url = postgres_engine.url.render_as_string(hide_password=False)
    arns = provision_secrets(aws, stage_secrets(aws, database_url))
    secrets: Any = role_client("secretsmanager", aws.role_named(prefix))
    with enforced():
        for arn in arns.values():
            with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
                secrets.get_secret_value(SecretId=arn)
    assert {c.resource for c in calls_of_this_test() if not c.allowed} == set(arns.values())
