"""The `MessageQueue` interface: at-least-once delivery with a visibility timeout and a dead-letter limit."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from upload_common.errors import InvalidInputError


@dataclass(frozen=True)
class Message:
    """One delivery of a message; `receipt_handle` identifies this delivery, not the message."""

    message_id: str
    body: str
    receipt_handle: str
    receive_count: int


class MessageQueue(abc.ABC):
    """A queue of text messages, delivered at least once.

    A received message stays invisible to other consumers for the visibility timeout; unless it is
    acked in that time it is delivered again, with a new receipt handle and a higher receive count.
    A message received more than the queue's maximum number of times is dead-lettered instead of
    delivered. A stale receipt handle (from an earlier delivery) never raises: acking or changing the
    visibility with it has no effect on the message's current delivery, as SQS documents.

    Implementations raise only domain errors: `QueueError` for anything the provider refuses.
    """

    @abc.abstractmethod
    def send(self, body: str) -> str:
        """Enqueue one message; return its id."""

    @abc.abstractmethod
    def send_batch(self, bodies: Sequence[str]) -> list[str]:
        """Enqueue several messages (any number); return their ids in the order of `bodies`."""

    @abc.abstractmethod
    def receive(
        self,
        max_messages: int = 1,
        wait_seconds: float = 0,
        visibility_timeout: int | None = None,
    ) -> list[Message]:
        """Up to `max_messages` visible messages, waiting up to `wait_seconds` for the first one.

        `visibility_timeout` (seconds) overrides the queue's default for these deliveries.
        """

    @abc.abstractmethod
    def ack(self, message: Message) -> None:
        """Delete the message: it was processed and is never delivered again."""

    @abc.abstractmethod
    def change_visibility(self, message: Message, seconds: int) -> None:
        """Make the message visible again in `seconds` (0: now), e.g. to extend a long job's hold."""

    @abc.abstractmethod
    def dead_letter_count(self) -> int:
        """How many messages this queue has dead-lettered and still keeps (SQS: approximate)."""


MAX_VISIBILITY_TIMEOUT = 12 * 60 * 60  # SQS's limit; the database queue keeps the same contract


def check_receive(max_messages: int, wait_seconds: float) -> None:
    """Refuse a receive request no implementation could honour."""
    if max_messages < 1:
        raise InvalidInputError(f"max_messages must be at least 1, not {max_messages}")
    if wait_seconds < 0:
        raise InvalidInputError(f"wait_seconds must not be negative, not {wait_seconds}")


def check_visibility(seconds: int) -> None:
    """Refuse a visibility timeout outside 0..12 hours."""
    if not 0 <= seconds <= MAX_VISIBILITY_TIMEOUT:
        raise InvalidInputError(f"visibility timeout must be 0..{MAX_VISIBILITY_TIMEOUT} s, not {seconds}")
