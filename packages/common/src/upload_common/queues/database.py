"""The embedded queue: messages are rows of the `queue_message` table in the service database.

Receiving claims rows in one short transaction. On PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` lets
several consumers claim different rows at once; on SQLite the engine from `upload_common.db.make_engine`
begins every transaction with `BEGIN IMMEDIATE`, so claims are serialised. Either way each row is
updated only if its receive count is still the one read, so no row is ever delivered twice at once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from upload_common.errors import ConfigurationError, QueueError
from upload_common.models import QueueMessage, utcnow
from upload_common.queues.base import Message, MessageQueue, check_receive, check_visibility

log = logging.getLogger(__name__)

_table: Any = QueueMessage.__table__
DEFAULT_VISIBILITY_TIMEOUT = 300
DEFAULT_MAX_RECEIVES = 4
POLL_INTERVAL = 0.05


class DatabaseQueue(MessageQueue):
    """The queue `name` in the database behind `engine` (the `queue` column keeps queues apart)."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        max_receives: int = DEFAULT_MAX_RECEIVES,
        visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        if max_receives < 1:
            raise ConfigurationError(f"max_receives must be at least 1, not {max_receives}")
        check_visibility(visibility_timeout)
        self._engine = engine
        self.name = name
        self.max_receives = max_receives
        self.visibility_timeout = visibility_timeout
        self._poll_interval = poll_interval

    def send(self, body: str) -> str:
        return self.send_batch([body])[0]

    def send_batch(self, bodies: Sequence[str]) -> list[str]:
        if not bodies:
            return []
        now = utcnow()
        rows = [
            {
                "queue": self.name,
                "body": body,
                "receive_count": 0,
                "visible_at": now,
                "dead": False,
                "sent_at": now,
            }
            for body in bodies
        ]
        with self._transaction() as conn:
            result = conn.execute(insert(_table).returning(_table.c.id, sort_by_parameter_order=True), rows)
            return [str(row.id) for row in result]

    def receive(
        self,
        max_messages: int = 1,
        wait_seconds: float = 0,
        visibility_timeout: int | None = None,
    ) -> list[Message]:
        check_receive(max_messages, wait_seconds)
        hold = self.visibility_timeout if visibility_timeout is None else visibility_timeout
        check_visibility(hold)
        deadline = time.monotonic() + wait_seconds
        while True:
            messages, buried = self._claim(max_messages, hold)
            if messages:
                return messages
            if buried:
                continue  # the rows we saw were dead-lettered: others may be waiting behind them
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(self._poll_interval, remaining))

    def ack(self, message: Message) -> None:
        message_id = _row_id(message.message_id)
        if message_id is None:
            return
        with self._transaction() as conn:
            conn.execute(
                delete(_table).where(
                    _table.c.id == message_id,
                    _table.c.queue == self.name,
                    _table.c.receipt_handle == message.receipt_handle,
                )
            )

    def change_visibility(self, message: Message, seconds: int) -> None:
        check_visibility(seconds)
        message_id = _row_id(message.message_id)
        if message_id is None:
            return
        with self._transaction() as conn:
            conn.execute(
                update(_table)
                .where(
                    _table.c.id == message_id,
                    _table.c.queue == self.name,
                    _table.c.receipt_handle == message.receipt_handle,
                    _table.c.dead.is_(False),
                )
                .values(visible_at=utcnow() + timedelta(seconds=seconds))
            )

    def dead_letter_count(self) -> int:
        with self._transaction() as conn:
            count = conn.execute(
                select(func.count()).where(_table.c.queue == self.name, _table.c.dead.is_(True))
            ).scalar_one()
        return int(count)

    def dead_letters(self, limit: int = 100) -> list[Message]:
        """The oldest dead-lettered messages of this queue (not deliverable: their receipt handle is "")."""
        with self._transaction() as conn:
            rows = conn.execute(
                select(_table.c.id, _table.c.body, _table.c.receive_count)
                .where(_table.c.queue == self.name, _table.c.dead.is_(True))
                .order_by(_table.c.id)
                .limit(limit)
            ).all()
        return [Message(str(row.id), row.body, "", row.receive_count) for row in rows]

    def _claim(self, max_messages: int, hold: int) -> tuple[list[Message], int]:
        with self._transaction() as conn:
            now = utcnow()
            rows = conn.execute(
                select(_table.c.id, _table.c.body, _table.c.receive_count)
                .where(_table.c.queue == self.name, _table.c.dead.is_(False), _table.c.visible_at <= now)
                .order_by(_table.c.visible_at, _table.c.id)
                .limit(max_messages)
                .with_for_update(skip_locked=True)
            ).all()
            spent = [row.id for row in rows if row.receive_count >= self.max_receives]
            if spent:
                conn.execute(
                    update(_table).where(_table.c.id.in_(spent)).values(dead=True, receipt_handle=None)
                )
                log.warning(
                    "queue %s: dead-lettered messages %s after %d receives",
                    self.name,
                    spent,
                    self.max_receives,
                )
            visible_at = now + timedelta(seconds=hold)
            messages = [
                message
                for row in rows
                if row.receive_count < self.max_receives
                and (message := _deliver(conn, row, now=now, visible_at=visible_at)) is not None
            ]
        return messages, len(spent)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise QueueError(f"database queue {self.name!r}: {type(exc).__name__}: {exc}") from None


def _deliver(conn: Connection, row: Row[Any], *, now: datetime, visible_at: datetime) -> Message | None:
    # A fresh handle per delivery, so the holder of an earlier delivery cannot ack this one.
    handle = uuid.uuid4().hex
    result = conn.execute(
        update(_table)
        .where(_table.c.id == row.id, _table.c.receive_count == row.receive_count)
        .values(
            receipt_handle=handle,
            receive_count=row.receive_count + 1,
            visible_at=visible_at,
            first_received_at=func.coalesce(_table.c.first_received_at, now),
        )
    )
    return Message(str(row.id), row.body, handle, row.receive_count + 1) if result.rowcount == 1 else None


def _row_id(message_id: str) -> int | None:
    try:
        return int(message_id)
    except ValueError:
        return None
