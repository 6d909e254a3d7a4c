"""The daily health report: its counts against real PostgreSQL and SQLite, the dead letters of the
database queue, and `upload-api health-report` printing it and posting it to a webhook on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from pydantic import SecretStr
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from support.callback_server import CallbackServer, serve_callbacks
from support.factories import make_area, make_checksum, make_notification, make_validation
from support.rolled_back import rolled_back_sessions
from upload_api import lambda_handlers as lambda_entry
from upload_api.cli import main
from upload_common import boto_clients
from upload_common.db import make_session_factory
from upload_common.domain.checksum_runs import stale_period
from upload_common.domain.health import validation_stuck_after
from upload_common.health_report import HealthReport, compute_health_report
from upload_common.models import Notification, utcnow
from upload_common.queues.database import _table as queue_table
from upload_common.queues.factory import QUEUE_NAMES, open_queue
from upload_common.service_context import ServiceContext
from upload_common.settings import Settings
from upload_common.statuses import AreaStatus, ChecksumStatus, NotificationStatus, ValidationStatus
from upload_common.storage import LocalObjectStore

QUEUE_PREFIX = "https://sqs.us-east-1.amazonaws.com/123456789012/upload-test"


@pytest.fixture
def sqs() -> Iterator[Any]:
    """The stage's queues and their dead-letter queues (`<name>-dlq`, as Terraform names them) in moto."""
    with mock_aws():
        client = boto_clients.client("sqs", region_name="us-east-1")
        for name in QUEUE_NAMES:
            client.create_queue(QueueName=f"upload-test-{name}-dlq")
            client.create_queue(QueueName=f"upload-test-{name}")
        yield client


def service_context(
    engine: Engine, sessions: sessionmaker[Session], tmp_path: Path, queue_url: str
) -> ServiceContext:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        storage_url=f"file://{tmp_path / 'storage'}",
        queue_url=queue_url,
        batch_name_prefix="upload-test",
    )
    return ServiceContext(
        settings=settings,
        engine=engine,
        sessions=sessions,
        store=LocalObjectStore(tmp_path / "storage"),
        secret_key="test-server-secret",
    )


def counts(report: HealthReport) -> dict[str, int]:
    values = report.as_dict()
    return {
        key: values[key]
        for key in ("stuck_checksum_runs", "stuck_validations", "failed_notifications", "overdue_areas")
    } | {f"dlq:{name}": depth for name, depth in report.dead_letters.items()}


def test_the_report_counts_what_is_stuck_failed_overdue_and_dead_lettered(
    any_engine: Engine, sqs: Any, tmp_path: Path
) -> None:
    with rolled_back_sessions(any_engine) as sessions:
        context = service_context(any_engine, sessions, tmp_path, QUEUE_PREFIX)
        now = utcnow()
        before = counts(compute_health_report(context, now=now))
        stale = now - stale_period(context.settings) - timedelta(seconds=1)
        stuck = now - validation_stuck_after(context.settings) - timedelta(seconds=1)
        with context.sessions.begin() as session:
            make_checksum(session, status=ChecksumStatus.CHECKSUMMING, updated_at=stale)  # its worker died
            make_checksum(session, status=ChecksumStatus.SCHEDULED, updated_at=stale)
            make_checksum(session, status=ChecksumStatus.CHECKSUMMING, updated_at=now)  # beating: fine
            make_checksum(session, status=ChecksumStatus.FAILED, updated_at=stale)  # ended: not stuck
            make_validation(session, status=ValidationStatus.VALIDATING, updated_at=stuck)
            make_validation(session, status=ValidationStatus.VALIDATING, updated_at=now)  # may still report
            make_validation(session, status=ValidationStatus.VALIDATED, updated_at=stuck)
            for status in (NotificationStatus.FAILED, NotificationStatus.FAILED, NotificationStatus.PENDING):
                make_notification(session, status=status)
            make_area(session, expires_at=now - timedelta(days=1))  # overdue
            make_area(session, expires_at=now - timedelta(days=1), status=AreaStatus.DELETED)
            make_area(session, expires_at=now + timedelta(days=1))
        for _ in range(2):  # what SQS moved to the deletion queue's dead-letter queue
            sqs.send_message(QueueUrl=f"{QUEUE_PREFIX}-deletion-dlq", MessageBody="poison")

        report = compute_health_report(context, now=now)

    after = counts(report)
    assert {key: after[key] - before[key] for key in after} == {
        "stuck_checksum_runs": 2,
        "stuck_validations": 1,
        "failed_notifications": 2,
        "overdue_areas": 1,
        "dlq:checksum": 0,
        "dlq:deletion": 2,
        "dlq:validation": 0,
    }
    assert not report.healthy
    message = report.slack_message()
    assert message["text"].startswith("dcp-upload upload-test: needs attention")
    assert f"FAILED notifications: {after['failed_notifications']}" in message["text"]
    assert "dead letters in deletion: 2" in message["text"]
    assert [block["type"] for block in message["blocks"]] == ["header", "section"]


def test_a_queue_that_cannot_be_read_is_reported_not_fatal(any_engine: Engine, tmp_path: Path) -> None:
    with mock_aws(), rolled_back_sessions(any_engine) as sessions:  # no queues exist
        report = compute_health_report(service_context(any_engine, sessions, tmp_path, QUEUE_PREFIX))
    assert set(report.unreadable) == {"checksum", "deletion", "validation"}
    assert "NonExistentQueue" in report.unreadable["checksum"]
    assert not report.healthy
    assert "dead letters in checksum: unknown" in report.slack_message()["text"]


@pytest.fixture
def dead_letter(any_engine: Engine, tmp_path: Path) -> Iterator[str]:
    """A message the embedded default's database queue dead-lettered (removed after the test)."""
    settings = Settings(database_url=any_engine.url.render_as_string(hide_password=False), queue_url="db://")
    queue = open_queue(settings, any_engine, "deletion")
    body = f"poison-{uuid.uuid4()}"
    queue.send(body)
    while [m for m in queue.receive(max_messages=10, visibility_timeout=0) if m.body == body]:
        pass  # received until the queue's max-receive count dead-letters it
    yield body
    with any_engine.begin() as connection:
        connection.execute(delete(queue_table).where(queue_table.c.body == body))


def test_the_database_queues_dead_letters_are_counted(
    dead_letter: str, any_engine: Engine, tmp_path: Path
) -> None:
    context = service_context(any_engine, make_session_factory(any_engine), tmp_path, "db://")
    deletion = context.queue("deletion")
    assert dead_letter in [m.body for m in deletion.dead_letters()]  # type: ignore[attr-defined]
    report = compute_health_report(context)
    assert report.dead_letters["deletion"] >= 1
    assert report.dead_letters["deletion"] == deletion.dead_letter_count()


# The command: a real process environment (settings from UPLOAD_*), SQLite, a webhook on 127.0.0.1.


@pytest.fixture
def command_env(sqlite_url: str, in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UPLOAD_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("UPLOAD_HEALTH_WEBHOOK_URL", raising=False)
    return in_tmp_cwd


@pytest.fixture
def failed_notification(sqlite_engine: Engine) -> Iterator[uuid.UUID]:
    with Session(sqlite_engine) as session, session.begin():
        notification_id = make_notification(session, status=NotificationStatus.FAILED).id
    yield notification_id
    with Session(sqlite_engine) as session, session.begin():
        session.execute(delete(Notification).where(Notification.id == notification_id))


@pytest.fixture
def webhook() -> Iterator[CallbackServer]:
    with serve_callbacks() as server:
        yield server


def test_dry_run_prints_the_report_and_posts_nothing(
    command_env: Path,
    failed_notification: uuid.UUID,
    webhook: CallbackServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("UPLOAD_HEALTH_WEBHOOK_URL", f"{webhook.url_base}/hooks/T000/B000/secret")
    assert main(["health-report", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "needs attention" in out
    assert "FAILED notifications:" in out
    assert "(upload-api redeliver-notifications)" in out
    assert "dead letters in checksum:" in out
    assert webhook.reports == []

    assert main(["health-report", "--dry-run", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["failed_notifications"] >= 1
    assert printed["healthy"] is False
    assert set(printed["dead_letters"]) == {"checksum", "deletion", "validation"}


def test_the_report_is_posted_to_the_webhook(
    command_env: Path,
    failed_notification: uuid.UUID,
    webhook: CallbackServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("UPLOAD_HEALTH_WEBHOOK_URL", f"{webhook.url_base}/hooks/T000/B000/secret")
    caplog.set_level(logging.INFO)
    assert main(["health-report"]) == 0
    printed = capsys.readouterr()
    [posted] = webhook.reports
    assert posted.path == "/hooks/T000/B000/secret"
    assert posted.body["text"] == printed.out.rstrip("\n")  # what was printed is what was posted
    assert posted.body["blocks"][0]["type"] == "header"
    assert "posted" in printed.err
    # The URL is a secret: no log line (httpx logs request URLs at INFO) may hold it.
    assert "B000/secret" not in caplog.text + printed.err + printed.out


def test_without_a_webhook_the_report_is_printed_and_the_operator_told(
    command_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["health-report"]) == 0
    printed = capsys.readouterr()
    assert "stuck checksum runs:" in printed.out
    assert "UPLOAD_HEALTH_WEBHOOK_URL is not set" in printed.err


def test_a_webhook_answering_500_fails_the_command_without_naming_its_url(
    command_env: Path,
    webhook: CallbackServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("UPLOAD_HEALTH_WEBHOOK_URL", f"{webhook.url_base}/hooks/secret-part")
    webhook.answers.append(500)
    assert main(["health-report"]) != 0
    err = capsys.readouterr().err
    assert "the health webhook refused the report: HTTP 500" in err
    assert "secret-part" not in err


def test_an_unreachable_webhook_fails_the_command_with_a_clear_message(
    command_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("UPLOAD_HEALTH_WEBHOOK_URL", f"http://127.0.0.1:{port}/hooks/secret-part")
    assert main(["health-report"]) != 0
    err = capsys.readouterr().err
    assert "the health webhook could not be reached (ConnectError)" in err
    assert "secret-part" not in err


def test_the_scheduled_lambda_posts_the_report(
    any_engine: Engine,
    sqs: Any,
    tmp_path: Path,
    webhook: CallbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with rolled_back_sessions(any_engine) as sessions:
        context = service_context(any_engine, sessions, tmp_path, QUEUE_PREFIX)
        context.settings = context.settings.model_copy(
            update={"health_webhook_url": SecretStr(f"{webhook.url_base}/hook")}
        )
        monkeypatch.setattr(
            lambda_entry, "_health_context", lambda: context
        )  # the handler's per-container cache

        result = lambda_entry.health_report_handler({"source": "aws.events"}, None)

    [posted] = webhook.reports
    assert posted.body["text"].startswith("dcp-upload upload-test:")
    assert result["dead_letters"] == {"checksum": 0, "deletion": 0, "validation": 0}
