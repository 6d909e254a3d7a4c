"""The outbox dispatcher against a real HTTP receiver on 127.0.0.1: delivery, retries with growing
delays, the retry budget, redelivery, the lease that keeps two dispatchers apart, and no ingest URL."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, delete, select

from support.factories import make_file, make_notification, make_validation
from support.ingest_server import FakeIngest
from upload_api.context import ApiContext
from upload_api.workers.dispatcher import claim_due, dispatch_due, redeliver_failed, run_dispatcher
from upload_common.db import make_session_factory
from upload_common.domain.outbox import notify_file_uploaded, notify_file_validated
from upload_common.models import Notification, utcnow
from upload_common.settings import Settings
from upload_common.statuses import NotificationStatus
from upload_common.storage import LocalObjectStore

SECRET = "test-ingest-secret"
# Short delays and timeouts keep the tests fast; `now` is passed explicitly wherever time matters.
FAST: dict[str, Any] = {
    "ingest_secret": SecretStr(SECRET),
    "notification_backoff_seconds": 1.0,
    "notification_backoff_max_seconds": 8.0,
    "notification_timeout_seconds": 2.0,
}


@pytest.fixture
def ingest() -> Iterator[FakeIngest]:
    with FakeIngest(secret=SECRET) as server:
        yield server


@pytest.fixture
def context(api_context: ApiContext, ingest: FakeIngest) -> ApiContext:
    return with_settings(api_context, ingest_url=ingest.url, **FAST)


def with_settings(context: ApiContext, **changes: Any) -> ApiContext:
    return dataclasses.replace(context, settings=context.settings.model_copy(update=changes))


def add_uploaded(context: ApiContext, count: int = 1) -> list[uuid.UUID]:
    ids = []
    with context.sessions.begin() as session:
        for _ in range(count):
            file = make_file(session)
            info = {"upload_area_id": str(uuid.uuid4()), "name": file.name, "size": file.size}
            ids.append(notify_file_uploaded(session, file, info).id)
    return ids


def rows(context: ApiContext, ids: list[uuid.UUID]) -> list[Notification]:
    with context.sessions() as session:
        found = {row.id: row for row in session.scalars(select(Notification).where(Notification.id.in_(ids)))}
    return [found[i] for i in ids]


def test_delivers_both_event_types_to_their_paths_signed_and_identified(
    context: ApiContext, ingest: FakeIngest
) -> None:
    with context.sessions.begin() as session:
        file = make_file(session)
        uploaded = notify_file_uploaded(session, file, {"upload_area_id": "a", "name": "r1.fastq", "size": 3})
        validation = make_validation(session, [file])
        results = {"upload_area_id": "a", "validation_id": str(validation.id), "exit_code": 0, "names": ["é"]}
        validated = notify_file_validated(
            session, file_id=file.id, validation_id=validation.id, results=results
        )
    report = dispatch_due(context)
    assert (report.delivered, report.retried, report.failed) == (2, 0, 0)

    by_id = {request.notification_id: request for request in ingest.requests}
    assert set(by_id) == {str(uploaded.id), str(validated.id)}
    sent_uploaded, sent_validated = by_id[str(uploaded.id)], by_id[str(validated.id)]
    assert sent_uploaded.path == "/messaging/fileUploadInfo"
    assert sent_uploaded.headers["x-upload-event"] == "file_uploaded"
    assert sent_uploaded.json() == uploaded.payload | {"event": "file_uploaded"}  # the event is signed too
    assert sent_validated.path == "/messaging/fileValidationResult"
    assert sent_validated.headers["x-upload-event"] == "file_validated"
    assert sent_validated.json() == results | {"event": "file_validated"}
    for request in (sent_uploaded, sent_validated):
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-signature"].startswith("v1,")
        assert ingest.signature_valid(request)  # by the reference library
        assert "authorization" not in request.headers  # no JWT key configured
    for row in rows(context, [uploaded.id, validated.id]):
        assert row.status is NotificationStatus.DELIVERED
        assert row.delivered_at is not None
        assert row.attempts == 0
    assert dispatch_due(context).processed == 0  # delivered rows are never sent again
    assert len(ingest.requests) == 2


def test_a_receiver_that_is_down_and_comes_back_gets_every_notification_once(
    context: ApiContext, ingest: FakeIngest
) -> None:
    ids = add_uploaded(context, 5)
    ingest.stop()  # connection refused from now on
    now = utcnow()
    previous_delays: dict[uuid.UUID, timedelta] = {}
    for attempt in range(1, 5):
        report = dispatch_due(context, now=now)
        assert (report.retried, report.delivered, report.failed) == (5, 0, 0)
        assert dispatch_due(context, now=now).processed == 0  # nothing is due again before its delay
        for row in rows(context, ids):
            assert row.status is NotificationStatus.PENDING
            assert row.attempts == attempt
            assert row.last_error is not None
            assert "ConnectError" in row.last_error
            delay = row.next_attempt_at - now
            assert delay > previous_delays.get(row.id, timedelta(0))  # growing delays
            previous_delays[row.id] = delay
        now = max(row.next_attempt_at for row in rows(context, ids))
    assert all(delay <= timedelta(seconds=8 + 1) for delay in previous_delays.values())  # capped + jitter

    ingest.start()  # the same port again
    report = dispatch_due(context, now=now)
    assert (report.delivered, report.retried) == (5, 0)
    assert dispatch_due(context, now=now + timedelta(hours=1)).processed == 0
    assert sorted(ingest.accepted_ids()) == sorted(str(i) for i in ids)  # each id exactly once
    assert all(row.status is NotificationStatus.DELIVERED for row in rows(context, ids))


def test_error_answers_are_retried_and_recorded_briefly(context: ApiContext, ingest: FakeIngest) -> None:
    [notification_id] = add_uploaded(context)
    ingest.fail_next(2, status=500, body=b"x" * 500)
    now = utcnow()
    for attempt in (1, 2):
        assert dispatch_due(context, now=now).retried == 1
        [row] = rows(context, [notification_id])
        assert row.attempts == attempt
        assert row.last_error == "HTTP 500: " + "x" * 200  # status and the start of the body only
        now = row.next_attempt_at
    assert dispatch_due(context, now=now).delivered == 1
    assert [request.status for request in ingest.requests] == [500, 500, 200]
    assert {request.notification_id for request in ingest.requests} == {str(notification_id)}


def test_a_timeout_is_a_failed_attempt(api_context: ApiContext) -> None:
    import socket  # noqa: PLC0415 - a listener that never answers, for this test only

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        context = with_settings(api_context, ingest_url=url, **(FAST | {"notification_timeout_seconds": 0.2}))
        [notification_id] = add_uploaded(context)
        assert dispatch_due(context).retried == 1
    [row] = rows(context, [notification_id])
    assert row.last_error is not None
    assert row.last_error.startswith("timed out")


def test_after_its_budget_a_notification_is_failed_and_can_be_redelivered(
    context: ApiContext, ingest: FakeIngest
) -> None:
    context = with_settings(context, notification_max_attempts=3)
    [notification_id] = add_uploaded(context)
    ingest.fail_next(3, status=503, body=b"down for\nmaintenance")
    now = utcnow()
    reports = []
    for _ in range(3):
        reports.append(dispatch_due(context, now=now))
        now = rows(context, [notification_id])[0].next_attempt_at
    assert [(r.retried, r.failed) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    [row] = rows(context, [notification_id])
    assert row.status is NotificationStatus.FAILED
    assert row.attempts == 3
    assert row.last_error == "HTTP 503: down for maintenance"
    assert dispatch_due(context, now=now + timedelta(days=1)).processed == 0  # FAILED rows wait

    assert redeliver_failed(context) == 1
    [row] = rows(context, [notification_id])
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
    assert dispatch_due(context).delivered == 1
    assert ingest.accepted_ids() == [str(notification_id)]
    assert redeliver_failed(context) == 0


def test_on_lambda_a_failed_notification_is_counted_as_an_emf_metric(
    context: ApiContext,
    ingest: FakeIngest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "upload-test-dispatcher")
    context = with_settings(context, notification_max_attempts=2, batch_name_prefix="upload-test")
    [notification_id] = add_uploaded(context)
    ingest.fail_next(2, status=503)
    assert dispatch_due(context).retried == 1
    assert capsys.readouterr().out == ""  # a retried attempt is not a failure yet

    assert dispatch_due(context, now=rows(context, [notification_id])[0].next_attempt_at).failed == 1

    [line] = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive == {
        "Namespace": "dcp-upload",
        "Dimensions": [["Stage"]],
        "Metrics": [{"Name": "NotificationsFailed", "Unit": "Count"}],
    }
    assert (record["Stage"], record["NotificationsFailed"]) == ("upload-test", 1)


def test_redeliver_only_the_named_ids(context: ApiContext) -> None:
    with context.sessions.begin() as session:
        first, second = (make_notification(session, status=NotificationStatus.FAILED) for _ in range(2))
    assert redeliver_failed(context, ids=[first.id, uuid.uuid4()]) == 1
    statuses = [row.status for row in rows(context, [first.id, second.id])]
    assert statuses == [NotificationStatus.PENDING, NotificationStatus.FAILED]


def test_without_an_ingest_url_notifications_are_kept_and_not_sent(
    api_context: ApiContext, ingest: FakeIngest, caplog: pytest.LogCaptureFixture
) -> None:
    context = with_settings(api_context, **FAST)  # UPLOAD_INGEST_URL unset
    ids = add_uploaded(context, 2)
    before = rows(context, ids)
    report = dispatch_due(context, now=utcnow() + timedelta(days=1))
    assert report.idle
    assert report.processed == 0
    after = rows(context, ids)
    assert [(r.status, r.attempts, r.next_attempt_at) for r in after] == [
        (r.status, r.attempts, r.next_attempt_at) for r in before
    ]
    assert ingest.requests == []

    stop = threading.Event()
    with caplog.at_level(logging.WARNING, logger="upload_api.workers.dispatcher"):
        loop = threading.Thread(target=run_dispatcher, args=(context, stop), kwargs={"idle_seconds": 0.01})
        loop.start()
        stop.wait(0.2)
        stop.set()
        loop.join(timeout=5)
    assert not loop.is_alive()
    idle_messages = [r for r in caplog.records if "UPLOAD_INGEST_URL is not set" in r.getMessage()]
    assert len(idle_messages) == 1  # said once, not at every turn


def test_a_claimed_row_is_hidden_for_its_lease_and_sent_again_after_a_crash(
    context: ApiContext, ingest: FakeIngest
) -> None:
    [notification_id] = add_uploaded(context)
    now = utcnow()
    # A dispatcher claims the row and dies before recording anything (perhaps after sending it).
    [claim] = claim_due(context, now=now, limit=10)
    assert claim.id == notification_id
    assert dispatch_due(context, now=now + timedelta(seconds=30)).processed == 0  # still leased
    report = dispatch_due(context, now=now + timedelta(seconds=61))  # the lease has run out
    assert report.delivered == 1
    assert ingest.accepted_ids() == [str(notification_id)]


def test_the_local_loop_delivers_until_stopped(context: ApiContext, ingest: FakeIngest) -> None:
    stop = threading.Event()
    loop = threading.Thread(target=run_dispatcher, args=(context, stop), kwargs={"idle_seconds": 0.02})
    loop.start()
    try:
        ids = add_uploaded(context, 3)
        ingest.wait_for(3)
    finally:
        stop.set()
        loop.join(timeout=5)
    assert not loop.is_alive()
    assert sorted(ingest.accepted_ids()) == sorted(str(i) for i in ids)


def test_two_dispatchers_at_once_never_send_the_same_row_twice(any_engine: Engine, tmp_path: Path) -> None:
    """Committed rows on the real engine (no shared test connection), so the claims really race."""
    with FakeIngest(secret=SECRET, delay=0.002) as ingest:
        settings = Settings(
            database_url=any_engine.url.render_as_string(hide_password=False),
            storage_url=f"file://{tmp_path}",
            ingest_url=ingest.url,
            **FAST,
        )
        context = ApiContext(
            settings=settings,
            engine=any_engine,
            sessions=make_session_factory(any_engine),
            store=LocalObjectStore(tmp_path),
            credential_issuer=None,
            api_keys=(b"k",),
            secret_key="s",
        )
        marker = uuid.uuid4().hex
        with context.sessions.begin() as session:
            ids = [
                make_notification(session, payload={"upload_area_id": marker, "n": n}).id for n in range(40)
            ]
        try:
            reports = []

            def work() -> None:
                while (report := dispatch_due(context, limit=7)).processed:
                    reports.append(report)

            workers = [threading.Thread(target=work) for _ in range(2)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=30)
            ours = [r for r in ingest.accepted() if json.loads(r.body).get("upload_area_id") == marker]
            assert len(ours) == 40
            assert sorted(r.notification_id or "" for r in ours) == sorted(str(i) for i in ids)
            assert sum(r.delivered for r in reports) >= 40
            assert all(row.status is NotificationStatus.DELIVERED for row in rows(context, ids))
        finally:
            with context.sessions.begin() as session:
                session.execute(delete(Notification).where(Notification.id.in_(ids)))


def test_rows_are_claimed_oldest_due_first(context: ApiContext, ingest: FakeIngest) -> None:
    now = utcnow()
    with context.sessions.begin() as session:
        late = make_notification(session, next_attempt_at=now - timedelta(seconds=1))
        early = make_notification(session, next_attempt_at=now - timedelta(seconds=5))
        make_notification(session, next_attempt_at=now + timedelta(seconds=5))  # not due yet
    claims = claim_due(context, now=now, limit=10)
    assert [c.id for c in claims] == [early.id, late.id]
    assert all(c.lease_until == now + timedelta(seconds=60) for c in claims)
