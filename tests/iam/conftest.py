"""Fixtures of the IAM tests: the applied stage's roles in an IAM-enforcing moto, and each component's
settings from the environment Terraform gives its Lambda function (see README.md in this directory)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from iam.emulator import (
    REGION,
    Role,
    StageIam,
    begin_test,
    patched_moto,
    provision,
    record_component,
    role_credentials,
    summary_rows,
)
from support.live_api import serving
from support.moto_batch import BATCH_CONFIG
from support.terraform_stage import AppliedStage
from upload_api.app import create_app
from upload_api.context import ApiContext
from upload_common.credentials import make_credential_issuer, make_staging_issuer
from upload_common.db import make_engine
from upload_common.queues import QUEUE_NAMES
from upload_common.settings import ENV_PREFIX, Settings, load_settings
from upload_common.storage import open_store

API_KEY = "iam-test-api-key"
SECRET_KEY = "iam-test-server-secret"
VALIDATOR_PREFIX = "quay.io/example/"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = summary_rows()
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section("IAM: AWS actions each component used, and what its role grants")
    write("| component | role | actions used | actions granted | unused grants |")
    write("|---|---|---|---|---|")
    for row in rows:
        write(f"| {' | '.join(row)} |")
    write(
        "Not counted: what Lambda itself does with a function's role (logs, VPC network interfaces, X-Ray,"
        " and a consumer's SQS event source mapping: ReceiveMessage, DeleteMessage, ChangeMessageVisibility,"
        " GetQueueAttributes)."
    )


@pytest.fixture(scope="session")
def stage_iam(local_stage: AppliedStage) -> StageIam:
    """The roles, policies, functions, bucket and queues of the applied `local` stage."""
    return StageIam.from_state(local_stage.state)


@pytest.fixture
def aws(stage_iam: StageIam) -> Iterator[StageIam]:
    """The stage's bucket, queues and roles in an in-process moto whose IAM checks `enforced()` turns on."""
    with mock_aws(config=BATCH_CONFIG), patched_moto():
        provision(stage_iam)
        begin_test()
        yield stage_iam


IAM_DATABASE_SETTINGS = ("UPLOAD_DATABASE_IAM_AUTH", "UPLOAD_DATABASE_USER")


def component_settings(
    stage: StageIam,
    function: str,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    overrides: dict[str, str] | None = None,
    *,
    secret_arns: bool = False,
) -> Settings:
    """The settings the Lambda `function` reads, from its environment in the Terraform state, except:
    secrets (their values instead of Secrets Manager ARNs, unless `secret_arns`: then the ARNs, and the
    database URL without a password, as deployed), the database, and the emulator's endpoints."""
    for name, value in stage.environments[function].items():
        if not name.startswith(ENV_PREFIX) or (name.endswith("_SECRET_ARN") and not secret_arns):
            continue
        # The test PostgreSQL is not RDS and checks no IAM token: code that really connects uses the test
        # URL's user (test_startup checks the rds-db:connect grants and the IAM settings instead).
        if name in IAM_DATABASE_SETTINGS and not secret_arns:
            continue
        # The queues' URLs name the applied stage's moto server; here, SQS's own URL (moto in process).
        given = (
            f"https://sqs.{REGION}.amazonaws.com{urlsplit(value).path}"
            if name == "UPLOAD_QUEUE_URL"
            else value
        )
        monkeypatch.setenv(name, given)
    if secret_arns:
        monkeypatch.setenv(
            "UPLOAD_DATABASE_URL", make_url(database_url).set(password=None).render_as_string()
        )
    else:
        monkeypatch.setenv("UPLOAD_DATABASE_URL", database_url)
        monkeypatch.setenv("UPLOAD_API_KEYS", API_KEY)
        monkeypatch.setenv("UPLOAD_SECRET_KEY", SECRET_KEY)
    for name, value in (overrides or {}).items():
        monkeypatch.setenv(name, value)
    return load_settings(Settings)


def use_role(role: Role, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run what follows with `role`'s credentials, as Lambda or Batch would (clients read them at creation)."""
    credentials = role_credentials(role)
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    # botocore reads AWS_SECURITY_TOKEN (the harness's dummy) before AWS_SESSION_TOKEN.
    monkeypatch.setenv("AWS_SECURITY_TOKEN", credentials["AWS_SESSION_TOKEN"])


def as_batch_job(role: Role, environment: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The process environment of a Batch container: the job's own variables and its job role's
    credentials, none of the service's `UPLOAD_*` settings the fixtures set for the functions."""
    for name in [n for n in os.environ if n.startswith("UPLOAD_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    use_role(role, monkeypatch)


def role_client(service: str, role: Role) -> object:
    credentials = role_credentials(role)
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=REGION,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
    )


def job_queue(stage: StageIam, arn: str) -> None:
    """The Batch job queue the setting names, as Terraform creates it (moto gives it the same ARN)."""
    batch: Any = boto3.client("batch", region_name=REGION)
    service_role = stage.role_named("upload-local-batch-svc-").arn
    environment = batch.create_compute_environment(
        computeEnvironmentName="upload-local-iam-test",
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=service_role,
    )
    queue = batch.create_job_queue(
        jobQueueName=arn.rsplit("/", 1)[1],
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}],
    )
    assert queue["jobQueueArn"] == arn


class Components:
    """Builds a component's context as its Lambda would: its settings from Terraform, its role's
    credentials in the environment. Clients are made here (and the queues opened), so each keeps the
    credentials of its own component when the next one is built."""

    def __init__(
        self,
        stage: StageIam,
        monkeypatch: pytest.MonkeyPatch,
        engine: Engine,
        sessions: sessionmaker[Session],
    ) -> None:
        self.stage = stage
        self.monkeypatch = monkeypatch
        self.engine = engine
        self.sessions = sessions

    def context(self, component: str, function: str, **overrides: str) -> ApiContext:
        """`overrides`: environment variables a deployment sets through Terraform variables."""
        role = self.stage.role_of(function)
        record_component(component, role)
        database_url = self.engine.url.render_as_string(hide_password=False)
        settings = component_settings(self.stage, function, self.monkeypatch, database_url, overrides)
        use_role(role, self.monkeypatch)
        context = ApiContext(
            settings=settings,
            engine=self.engine,
            sessions=self.sessions,
            store=open_store(settings),
            secret_key=SECRET_KEY,
            credential_issuer=make_credential_issuer(settings) if settings.submitter_role_arn else None,
            staging_issuer=make_staging_issuer(settings) if settings.staging_role_arn else None,
            api_keys=(API_KEY.encode(),),
        )
        for name in QUEUE_NAMES:
            context.queue(name)
        return context

    def again(self, function: str) -> None:
        """The environment's credentials back to `function`'s role (for clients made at call time)."""
        use_role(self.stage.role_of(function), self.monkeypatch)


@pytest.fixture
def components(
    aws: StageIam,
    monkeypatch: pytest.MonkeyPatch,
    postgres_engine: Engine,
    pg_sessions: sessionmaker[Session],
) -> Components:
    return Components(aws, monkeypatch, postgres_engine, pg_sessions)


@pytest.fixture
def api_context(components: Components) -> ApiContext:
    """The API as its Lambda runs it: its settings from Terraform, with its role's credentials."""
    # The local env lists no validator image (var.validator_images); a deployment lists its own.
    return components.context("api", "upload-local-api", UPLOAD_VALIDATOR_IMAGES=f'["{VALIDATOR_PREFIX}"]')


@pytest.fixture
def client(api_context: ApiContext) -> Iterator[TestClient]:
    with create_app(api_context).test_client() as test_client:
        yield test_client


@contextmanager
def served(context: ApiContext) -> Iterator[str]:
    """The API of `context` under uvicorn on 127.0.0.1 (`support.live_api.serving`), for the jobs that
    call it; yields its base URL. On an engine of its own, which `serving` disposes at the end: the
    session's engine keeps the connection of the test's rolled-back transaction (`context.sessions`)."""
    engine = make_engine(context.engine.url.render_as_string(hide_password=False))
    with serving(dataclasses.replace(context, engine=engine)) as (host, port):
        yield f"http://{host}:{port}"
