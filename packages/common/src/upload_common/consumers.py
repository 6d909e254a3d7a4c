"""Run a per-record function over queue messages: the local loop and the SQS Lambda batch handler.

The same `handle(body)` serves both. It raises to have the message delivered again (after the
visibility timeout; dead-lettered after the queue's maximum receives) and returns to have it deleted.
A message that can never be processed (`InvalidInputError`: malformed, unknown type) is logged and
deleted at once instead of being retried until it is dead-lettered.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from upload_common.errors import InvalidInputError
from upload_common.queues import Message, MessageQueue

logger = logging.getLogger(__name__)

RecordHandler = Callable[[str], object]  # its return value is ignored


def process_message(queue: MessageQueue, message: Message, handle: RecordHandler) -> bool:
    """Handle one message and ack it unless it must be retried; True when it was acked."""
    if not _handled(message, handle):
        return False
    queue.ack(message)
    return True


def _handled(message: Message, handle: RecordHandler) -> bool:
    """The drop-or-retry rule: True when the message is done with (handled, or dropped because it can
    never be processed), False when it must be delivered again."""
    try:
        handle(message.body)
    except InvalidInputError as exc:
        logger.error("dropping message %s that cannot be processed: %s", message.message_id, exc)
    except Exception:
        logger.exception(
            "message %s failed (delivery %d); it will be retried", message.message_id, message.receive_count
        )
        return False
    return True


def run_consumer(
    queue: MessageQueue,
    handle: RecordHandler,
    stop: threading.Event,
    *,
    batch_size: int = 10,
    wait_seconds: float = 1.0,
    on_idle: Callable[[], None] | None = None,
) -> int:
    """Process messages until `stop` is set; returns how many were acked. `on_idle` runs when none came;
    an error in it is logged with its traceback and the loop goes on (it runs again next time)."""
    acked = 0
    while not stop.is_set():
        try:
            messages = queue.receive(max_messages=batch_size, wait_seconds=wait_seconds)
        except Exception:
            logger.exception("receiving from the queue failed; retrying")
            stop.wait(wait_seconds or 1.0)
            continue
        for message in messages:
            if stop.is_set():
                break  # unprocessed messages come back after their visibility timeout
            acked += process_message(queue, message, handle)
        if not messages and on_idle is not None:
            _run_idle_task(on_idle)
    return acked


def _run_idle_task(on_idle: Callable[[], None]) -> None:
    # A periodic task (reaper, sweep) that fails must not stop the loop that consumes the queue.
    try:
        on_idle()
    except Exception:
        logger.exception("the idle task failed; the worker goes on and runs it again later")


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: a local loop finishes its current message and returns."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def every(seconds: float, action: Callable[[], object]) -> Callable[[], None]:
    """`action`, run at most once every `seconds` (work a loop does while its queue is idle); one that
    raised is tried again a period later, not at once."""
    last: float | None = None

    def maybe() -> None:
        nonlocal last
        if last is None or time.monotonic() - last >= seconds:
            last = time.monotonic()
            action()

    return maybe


def sqs_batch_response(event: Mapping[str, Any], handle: RecordHandler) -> dict[str, list[dict[str, str]]]:
    """Lambda handler body for an SQS event of any batch size, with partial batch failure.

    Failed records are returned in `batchItemFailures` (the event source mapping needs
    `ReportBatchItemFailures`); the others are deleted by Lambda.
    """
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        message = _message_of(record)
        if not _handled(message, handle):
            failures.append({"itemIdentifier": message.message_id})
    return {"batchItemFailures": failures}


def _message_of(record: Mapping[str, Any]) -> Message:
    """The delivery an SQS event record describes (its receive count is 0 when the record lacks it)."""
    count = str((record.get("attributes") or {}).get("ApproximateReceiveCount", ""))
    return Message(
        str(record.get("messageId", "")),
        str(record.get("body", "")),
        str(record.get("receiptHandle", "")),
        int(count) if count.isdigit() else 0,
    )
