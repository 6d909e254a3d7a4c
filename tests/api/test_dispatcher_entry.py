"""The dispatcher's entry points: the scheduled Lambda handler, `upload-api dispatcher` as a real
process stopped by SIGTERM, and `upload-api redeliver-notifications`."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from support.factories import make_file, make_notification
from support.ingest_server import FakeIngest
from upload_api import lambda_handlers as lambda_entry
from upload_api.cli import main
from upload_api.context import ApiContext
from upload_common.domain.outbox import notify_file_uploaded
from upload_common.models import Notification
from upload_common.statuses import NotificationStatus

SECRET = "test-ingest-secret"
ROOT = Path(__file__).resolve().parents[2]


class FakeLambdaContext:
    """The one method of AWS's Lambda context object that the handler reads."""

    def __init__(self, remaining_ms: int) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


@pytest.fixture
def ingest() -> Iterator[FakeIngest]:
    with FakeIngest(secret=SECRET) as server:
        yield server


@pytest.fixture
def lambda_context_of(
    api_context: ApiContext, ingest: FakeIngest, monkeypatch: pytest.MonkeyPatch
) -> ApiContext:
    settings = api_context.settings.model_copy(
        update={"ingest_url": ingest.url, "ingest_secret": SecretStr(SECRET)}
    )
    context = dataclasses.replace(api_context, settings=settings)
    lambda_entry._context.cache_clear()
    monkeypatch.setattr(lambda_entry, "_context", lambda: context)
    return context


def test_the_scheduled_lambda_delivers_what_is_due_and_returns_counts(
    lambda_context_of: ApiContext, ingest: FakeIngest
) -> None:
    with lambda_context_of.sessions.begin() as session:
        ids = [
            notify_file_uploaded(session, make_file(session), {"upload_area_id": "a"}).id for _ in range(3)
        ]
    result = lambda_entry.dispatcher_handler({"source": "aws.events"}, FakeLambdaContext(600_000))
    assert result == {"delivered": 3, "retried": 0, "failed": 0, "skipped": 0, "idle": False}
    assert sorted(ingest.accepted_ids()) == sorted(str(i) for i in ids)


def test_the_lambda_claims_nothing_when_less_than_a_lease_of_time_is_left(
    lambda_context_of: ApiContext, ingest: FakeIngest
) -> None:
    with lambda_context_of.sessions.begin() as session:
        notify_file_uploaded(session, make_file(session), {"upload_area_id": "a"})
    result = lambda_entry.dispatcher_handler({}, FakeLambdaContext(80_000))  # 80 s - 30 s margin < 60 s
    assert result["delivered"] == 0
    assert ingest.requests == []


def _committed(engine: Engine, **fields: object) -> uuid.UUID:
    with Session(engine) as session, session.begin():
        return make_notification(session, **fields).id


def _status(engine: Engine, notification_id: uuid.UUID) -> NotificationStatus:
    with Session(engine) as session:
        return session.scalars(select(Notification.status).where(Notification.id == notification_id)).one()


def _remove(engine: Engine, *ids: uuid.UUID) -> None:
    with Session(engine) as session, session.begin():
        session.execute(delete(Notification).where(Notification.id.in_(ids)))


def test_redeliver_notifications_command(
    sqlite_url: str,
    sqlite_engine: Engine,
    in_tmp_cwd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("UPLOAD_DATABASE_URL", sqlite_url)
    named = _committed(sqlite_engine, status=NotificationStatus.FAILED, last_error="HTTP 500")
    other = _committed(sqlite_engine, status=NotificationStatus.FAILED)
    try:
        assert main(["redeliver-notifications", "--id", str(named)]) == 0
        assert capsys.readouterr().out.startswith("1 notification(s) made PENDING")
        assert (_status(sqlite_engine, named), _status(sqlite_engine, other)) == ("PENDING", "FAILED")
        assert main(["redeliver-notifications"]) == 0
        assert capsys.readouterr().out.startswith("1 notification(s) made PENDING")
        assert _status(sqlite_engine, other) == "PENDING"
    finally:
        _remove(sqlite_engine, named, other)


def test_dispatcher_process_delivers_and_stops_on_sigterm(
    sqlite_url: str, sqlite_engine: Engine, ingest: FakeIngest, tmp_path: Path
) -> None:
    notification_id = _committed(sqlite_engine)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("UPLOAD_")}
    environment |= {"UPLOAD_DATABASE_URL": sqlite_url, **ingest.environment()}
    process = subprocess.Popen(
        [sys.executable, "-m", "upload_api.cli", "dispatcher"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ingest.wait_for(1, timeout=30)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        _remove(sqlite_engine, notification_id)
    assert process.returncode == 0, output
    assert ingest.accepted_ids() == [str(notification_id)]
    assert "notification dispatcher stopped" in output
    assert SECRET not in output  # never logged
