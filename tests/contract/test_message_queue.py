"""Contract of `MessageQueue`: SQS (moto) and the database queue on PostgreSQL and on SQLite behave alike."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from moto import mock_aws
from sqlalchemy import Engine

from upload_common import boto_clients
from upload_common.db import make_engine
from upload_common.errors import InvalidInputError, QueueError
from upload_common.queues.base import MessageQueue
from upload_common.queues.database import DatabaseQueue
from upload_common.queues.sqs import SqsQueue


@dataclass
class QueueCase:
    """How to open a fresh queue of one implementation, and how to see what it dead-lettered."""

    make: Callable[..., MessageQueue]  # make(max_receives=..., visibility_timeout=...)
    dead_bodies: Callable[[MessageQueue], list[str]]
    broken: Callable[[], MessageQueue]  # a queue whose provider refuses every call


_ENGINES = {"postgresql": "postgres_engine", "sqlite": "sqlite_engine"}


@pytest.fixture(params=["sqs", *_ENGINES])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueueCase]:
    if request.param == "sqs":
        with mock_aws():
            yield _sqs_case()
        return
    engine: Engine = request.getfixturevalue(_ENGINES[request.param])
    empty = make_engine(f"sqlite:///{tmp_path_factory.mktemp('empty') / 'no-tables.db'}")
    yield QueueCase(
        make=lambda max_receives=4, visibility_timeout=30: DatabaseQueue(
            engine,
            f"test-{uuid.uuid4().hex}",
            max_receives=max_receives,
            visibility_timeout=visibility_timeout,
        ),
        dead_bodies=lambda queue: [m.body for m in _database(queue).dead_letters()],
        broken=lambda: DatabaseQueue(empty, "checksum"),
    )
    empty.dispose()


def test_send_receive_ack(case: QueueCase) -> None:
    queue = case.make()
    body = json.dumps({"key": "área/ünïcode file.fastq.gz", "etag": "abc"})
    message_id = queue.send(body)

    [message] = queue.receive(max_messages=10)

    assert (message.message_id, message.body, message.receive_count) == (message_id, body, 1)
    assert queue.receive(max_messages=10) == []  # in flight: invisible to other consumers
    queue.ack(message)
    queue.change_visibility(message, 0)  # the message is gone: nothing comes back
    assert queue.receive(max_messages=10) == []


def test_send_batch_beyond_the_sqs_batch_limit(case: QueueCase) -> None:
    queue = case.make()
    bodies = [f"message {n}" for n in range(25)]

    ids = queue.send_batch(bodies)
    received = queue.receive(max_messages=25)
    received += queue.receive(max_messages=25)  # SQS may return fewer than are visible per call

    assert len(set(ids)) == 25
    assert sorted(m.body for m in received) == sorted(bodies)
    assert {m.body: m.message_id for m in received} == dict(zip(bodies, ids, strict=True))
    assert queue.send_batch([]) == []


def test_receive_with_no_visibility_timeout_returns_each_message_once(case: QueueCase) -> None:
    queue = case.make()
    queue.send_batch([f"m{n}" for n in range(10)])

    received = queue.receive(max_messages=20, visibility_timeout=0)

    assert len({m.message_id for m in received}) == len(received)
    assert 0 < len(received) <= 10


def test_unacked_message_returns_after_the_visibility_timeout(case: QueueCase) -> None:
    queue = case.make(visibility_timeout=30)
    queue.send("again")

    [first] = queue.receive(visibility_timeout=1)
    assert queue.receive() == []
    time.sleep(1.2)
    [second] = queue.receive()

    assert second.body == "again"
    assert second.message_id == first.message_id
    assert second.receive_count == 2
    assert second.receipt_handle != first.receipt_handle
    assert queue.receive() == []  # the queue's own default timeout (30 s) now holds it


def test_change_visibility_releases_and_extends(case: QueueCase) -> None:
    queue = case.make()
    queue.send("held")

    [message] = queue.receive(visibility_timeout=30)
    queue.change_visibility(message, 0)
    [again] = queue.receive(visibility_timeout=1)
    queue.change_visibility(again, 30)
    time.sleep(1.2)

    assert again.body == "held"
    assert queue.receive() == []  # extended: still held although the 1 s timeout has passed


def test_dead_letter_after_max_receives(case: QueueCase) -> None:
    queue = case.make(max_receives=2)
    queue.send_batch(["poison", "healthy"])

    deliveries = []
    for _ in range(3):
        for message in queue.receive(max_messages=10, visibility_timeout=0):
            deliveries.append(message.body)
            if message.body == "healthy":
                queue.ack(message)

    assert sorted(deliveries) == ["healthy", "poison", "poison"]
    assert queue.dead_letter_count() == 1  # what the health report and the alarms count
    assert case.dead_bodies(queue) == ["poison"]
    assert queue.receive(max_messages=10) == []


def test_stale_receipt_handle_never_raises(case: QueueCase) -> None:
    queue = case.make()
    queue.send("redelivered")
    [stale] = queue.receive(visibility_timeout=0)
    [current] = queue.receive(visibility_timeout=30)

    queue.change_visibility(stale, 30)
    queue.ack(stale)
    queue.ack(current)

    assert current.receive_count == 2
    assert queue.receive(max_messages=10) == []


def test_wait_returns_a_message_sent_during_the_wait(case: QueueCase) -> None:
    queue = case.make()
    sender = threading.Timer(0.3, queue.send, args=["late"])
    sender.start()
    try:
        received = queue.receive(wait_seconds=10)
    finally:
        sender.join()

    assert [m.body for m in received] == ["late"]


def test_invalid_requests_are_refused(case: QueueCase) -> None:
    queue = case.make()
    with pytest.raises(InvalidInputError, match="max_messages"):
        queue.receive(max_messages=0)
    with pytest.raises(InvalidInputError, match="visibility"):
        queue.receive(visibility_timeout=-1)
    queue.send("x")
    [message] = queue.receive()
    with pytest.raises(InvalidInputError, match="visibility"):
        queue.change_visibility(message, 12 * 3600 + 1)


def test_provider_errors_become_queue_errors(case: QueueCase) -> None:
    queue = case.broken()
    with pytest.raises(QueueError):
        queue.send("x")
    with pytest.raises(QueueError):
        queue.receive()


@pytest.fixture(params=list(_ENGINES))
def database_engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(_ENGINES[request.param])
    return engine


def test_two_consumers_process_a_thousand_messages_once_each(database_engine: Engine) -> None:
    name = f"test-{uuid.uuid4().hex}"
    sent = set(DatabaseQueue(database_engine, name).send_batch([f"m{n}" for n in range(1000)]))
    processed: list[list[str]] = [[], []]
    failures: list[BaseException] = []

    started = threading.Barrier(2)

    def consume(index: int) -> None:
        queue = DatabaseQueue(database_engine, name, visibility_timeout=60)
        try:
            started.wait(timeout=30)  # both consumers compete from the first receive on
            while batch := queue.receive(max_messages=25):
                time.sleep(0.01)  # a little work per batch, during which the other consumer receives
                for message in batch:
                    processed[index].append(message.message_id)
                    queue.ack(message)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread below
            failures.append(exc)

    consumers = [threading.Thread(target=consume, args=(index,)) for index in range(2)]
    for consumer in consumers:
        consumer.start()
    for consumer in consumers:
        consumer.join()

    assert failures == []
    everything = processed[0] + processed[1]
    assert len(everything) == 1000
    assert set(everything) == sent
    assert processed[0], "the first consumer took part"
    assert processed[1], "the second consumer took part"


def test_database_stale_ack_leaves_the_redelivered_message(database_engine: Engine) -> None:
    queue = DatabaseQueue(database_engine, f"test-{uuid.uuid4().hex}")
    queue.send("slow worker")
    [stale] = queue.receive(visibility_timeout=0)
    [current] = queue.receive(visibility_timeout=0)

    queue.ack(stale)  # the first worker finishes late: the message now belongs to the second delivery
    queue.change_visibility(stale, 600)
    [third] = queue.receive(visibility_timeout=30)

    assert third.message_id == current.message_id
    assert third.receive_count == 3
    queue.ack(third)
    assert queue.receive() == []


def _sqs_case() -> QueueCase:
    client = boto_clients.client("sqs")

    def make(max_receives: int = 4, visibility_timeout: int = 30) -> MessageQueue:
        name = f"test-{uuid.uuid4().hex}"
        dlq_url = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]
        redrive = {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": str(max_receives)}
        url = client.create_queue(
            QueueName=name,
            Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": str(visibility_timeout)},
        )["QueueUrl"]
        return SqsQueue(url, client)

    def dead_bodies(queue: MessageQueue) -> list[str]:
        dlq = SqsQueue(f"{_sqs(queue).url}-dlq", client)
        return sorted(m.body for m in dlq.receive(max_messages=10))

    return QueueCase(
        make=make,
        dead_bodies=dead_bodies,
        broken=lambda: SqsQueue("https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue", client),
    )


def _database(queue: MessageQueue) -> DatabaseQueue:
    assert isinstance(queue, DatabaseQueue)
    return queue


def _sqs(queue: MessageQueue) -> SqsQueue:
    assert isinstance(queue, SqsQueue)
    return queue
