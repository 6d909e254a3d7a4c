"""Message queues: the `MessageQueue` interface, its SQS and database implementations, and the factory."""

from upload_common.queues.base import Message, MessageQueue
from upload_common.queues.factory import QUEUE_NAMES, open_queue

__all__ = ["QUEUE_NAMES", "Message", "MessageQueue", "open_queue"]
