"""The drop-or-retry rule of queue consumers, the same in the local loop and the SQS Lambda handler."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest
from sqlalchemy import Engine

from upload_common.consumers import every, process_message, run_consumer, sqs_batch_response
from upload_common.errors import InvalidInputError
from upload_common.queues.database import DatabaseQueue


def handle(body: str) -> None:
    if body == "malformed":
        raise InvalidInputError("not a message of any known type")
    if body == "unlucky":
        raise RuntimeError("the database is down")


def test_the_local_loop_acks_handled_and_malformed_messages_and_retries_failures(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    queue = DatabaseQueue(sqlite_engine, f"test-{uuid.uuid4().hex}", visibility_timeout=30)
    queue.send_batch(["fine", "malformed", "unlucky"])
    received = {m.body: m for m in queue.receive(max_messages=10)}
    with caplog.at_level(logging.ERROR, logger="upload_common.consumers"):
        acked = {body: process_message(queue, m, handle) for body, m in received.items()}
    assert acked == {"fine": True, "malformed": True, "unlucky": False}
    queue.change_visibility(received["unlucky"], 0)  # as if its visibility timeout had passed
    assert [m.body for m in queue.receive(max_messages=10)] == ["unlucky"]
    messages = [record.getMessage() for record in caplog.records]
    assert any("dropping message" in m and "not a message of any known type" in m for m in messages)
    assert any("failed (delivery 1); it will be retried" in m for m in messages)


def test_the_lambda_handler_reports_only_the_failures_for_retry(caplog: pytest.LogCaptureFixture) -> None:
    event = {
        "Records": [
            {"messageId": "1", "body": "fine"},
            {"messageId": "2", "body": "malformed"},
            {"messageId": "3", "body": "unlucky", "attributes": {"ApproximateReceiveCount": "4"}},
        ]
    }
    with caplog.at_level(logging.ERROR, logger="upload_common.consumers"):
        assert sqs_batch_response(event, handle) == {"batchItemFailures": [{"itemIdentifier": "3"}]}
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("dropping message 2 ") for m in messages)
    assert any("message 3 failed (delivery 4); it will be retried" in m for m in messages)


def test_an_idle_task_that_raises_does_not_stop_the_loop(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    queue = DatabaseQueue(sqlite_engine, f"test-{uuid.uuid4().hex}", visibility_timeout=30)
    failed, ran_again, handled, stop = (threading.Event() for _ in range(4))

    def reap() -> None:  # a periodic task that fails once, as a reaper might when the database blips
        if not failed.is_set():
            failed.set()
            raise RuntimeError("the database is down")
        ran_again.set()

    def handle_after(body: str) -> None:
        assert body == "after the failure"
        handled.set()

    loop = threading.Thread(
        target=run_consumer,
        args=(queue, handle_after, stop),
        kwargs={"wait_seconds": 0.05, "on_idle": every(0, reap)},
    )
    with caplog.at_level(logging.ERROR, logger="upload_common.consumers"):
        loop.start()
        try:
            assert failed.wait(60), "the idle task never ran"
            queue.send("after the failure")
            assert handled.wait(60), "the loop stopped consuming after its idle task failed"
            assert ran_again.wait(60), "the idle task never ran again"
        finally:
            stop.set()
            loop.join(60)
    assert not loop.is_alive()
    [record] = [r for r in caplog.records if "the idle task failed" in r.getMessage()]
    assert record.exc_info is not None  # logged with its traceback
