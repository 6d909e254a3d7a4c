"""Amazon SQS behind the `MessageQueue` interface.

Dead-lettering is the queue's own `RedrivePolicy` (set by Terraform): after `maxReceiveCount`
deliveries SQS moves a message to the dead-letter queue instead of delivering it again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from upload_common.errors import QueueError
from upload_common.queues.base import Message, MessageQueue, check_receive, check_visibility

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH_LIMIT = 10  # SQS takes at most 10 entries per SendMessageBatch / ReceiveMessage
MAX_WAIT_SECONDS = 20  # SQS's long-poll limit
# What SQS answers for the handle of a message that was acked or redelivered since: the interface
# promises that a stale handle has no effect and never raises.
STALE_HANDLE_CODES = frozenset({"ReceiptHandleIsInvalid", "AWS.SimpleQueueService.MessageNotInflight"})

log = logging.getLogger(__name__)


class SqsQueue(MessageQueue):
    """The SQS queue at `url`, reached through `client` (see `upload_common.boto_clients.client`)."""

    def __init__(self, url: str, client: SQSClient) -> None:
        self.url = url
        self._client = client

    def send(self, body: str) -> str:
        with self._translate("SendMessage"):
            return self._client.send_message(QueueUrl=self.url, MessageBody=body)["MessageId"]

    def send_batch(self, bodies: Sequence[str]) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(bodies), BATCH_LIMIT):
            ids.extend(self._send_chunk(bodies[start : start + BATCH_LIMIT]))
        return ids

    def receive(
        self,
        max_messages: int = 1,
        wait_seconds: float = 0,
        visibility_timeout: int | None = None,
    ) -> list[Message]:
        check_receive(max_messages, wait_seconds)
        options: dict[str, Any] = {}
        if visibility_timeout is not None:
            check_visibility(visibility_timeout)
            options["VisibilityTimeout"] = visibility_timeout
        deadline = time.monotonic() + wait_seconds
        # SQS long-polls for at most 20 s a call: longer waits take several calls.
        while not (first := self._receive_chunk(min(BATCH_LIMIT, max_messages), _wait(deadline), options)):
            if time.monotonic() >= deadline:
                return []
        # Keyed by id: with a short visibility timeout a top-up call can deliver the same message
        # again, and then only its latest receipt handle is current.
        messages = {message.message_id: message for message in first}
        got, wanted = first, min(BATCH_LIMIT, max_messages)
        while len(got) == wanted and len(messages) < max_messages:
            # Top up, without waiting, with what is already visible.
            wanted = min(BATCH_LIMIT, max_messages - len(messages))
            got = self._receive_chunk(wanted, 0, options)
            known = len(messages)
            messages.update((message.message_id, message) for message in got)
            if len(messages) == known:
                break  # nothing new is visible now
        return list(messages.values())

    def ack(self, message: Message) -> None:
        with self._translate("DeleteMessage", tolerate=STALE_HANDLE_CODES):
            self._client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt_handle)

    def change_visibility(self, message: Message, seconds: int) -> None:
        check_visibility(seconds)
        with self._translate("ChangeMessageVisibility", tolerate=STALE_HANDLE_CODES):
            self._client.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=seconds
            )

    def dead_letter_count(self) -> int:
        """The depth of the dead-letter queue `<url>-dlq` (the naming of terraform/modules/storage)."""
        with self._translate("GetQueueAttributes"):
            attributes = self._client.get_queue_attributes(
                QueueUrl=f"{self.url}-dlq", AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", "0"))

    def _send_chunk(self, bodies: Sequence[str]) -> list[str]:
        entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)]
        with self._translate("SendMessageBatch"):
            response = self._client.send_message_batch(QueueUrl=self.url, Entries=entries)  # type: ignore[arg-type]
        failed = response.get("Failed", [])
        if failed:
            reasons = "; ".join(f"entry {f['Id']}: {f.get('Code')}: {f.get('Message', '')}" for f in failed)
            raise QueueError(f"SQS {self.url}: {len(failed)} of {len(bodies)} messages not sent: {reasons}")
        by_entry = {entry["Id"]: entry["MessageId"] for entry in response.get("Successful", [])}
        return [by_entry[str(index)] for index in range(len(bodies))]

    def _receive_chunk(self, count: int, wait: int, options: dict[str, Any]) -> list[Message]:
        with self._translate("ReceiveMessage"):
            response = self._client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                **options,
            )
        return [
            Message(
                message_id=raw["MessageId"],
                body=raw["Body"],
                receipt_handle=raw["ReceiptHandle"],
                receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
            )
            for raw in response.get("Messages", [])
        ]

    @contextmanager
    def _translate(self, operation: str, tolerate: frozenset[str] = frozenset()) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in tolerate:
                log.info(
                    "SQS %s on %s: stale receipt handle ignored (%s)", operation, self.url, error["Code"]
                )
                return
            raise QueueError(
                f"SQS {operation} on {self.url}: {error.get('Code', '?')}: {error.get('Message', '')}"
            ) from None
        except BotoCoreError as exc:
            raise QueueError(f"SQS {operation} on {self.url}: {exc}") from None


def _wait(deadline: float) -> int:
    """Whole seconds (SQS's unit) left until `deadline`, at most SQS's long-poll limit."""
    return max(0, min(MAX_WAIT_SECONDS, math.ceil(deadline - time.monotonic())))
