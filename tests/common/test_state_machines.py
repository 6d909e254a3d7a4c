"""Every legal and illegal transition of every state machine, applied to rows on PostgreSQL and SQLite."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy.orm import Session

from support.factories import (
    make_area,
    make_checksum,
    make_file,
    make_notification,
    make_upload_session,
    make_validation,
)
from upload_common.domain.state_machines import (
    AREA_TRANSITIONS,
    CHECKSUM_TRANSITIONS,
    FILE_TRANSITIONS,
    NOTIFICATION_TRANSITIONS,
    UPLOAD_SESSION_TRANSITIONS,
    VALIDATION_TRANSITIONS,
    transition_area,
    transition_checksum,
    transition_file,
    transition_notification,
    transition_upload_session,
    transition_validation,
)
from upload_common.errors import IllegalTransitionError

Machine = tuple[str, Mapping[Any, frozenset[Any]], Callable[..., Any], Callable[..., Any]]

MACHINES: list[Machine] = [
    ("upload_area", AREA_TRANSITIONS, make_area, transition_area),
    ("file", FILE_TRANSITIONS, make_file, transition_file),
    ("checksum", CHECKSUM_TRANSITIONS, make_checksum, transition_checksum),
    ("validation", VALIDATION_TRANSITIONS, make_validation, transition_validation),
    ("notification", NOTIFICATION_TRANSITIONS, make_notification, transition_notification),
    ("upload_session", UPLOAD_SESSION_TRANSITIONS, make_upload_session, transition_upload_session),
]

CASES = [
    pytest.param(name, table, factory, apply, current, requested, id=f"{name}:{current}->{requested}")
    for name, table, factory, apply in MACHINES
    for current, requested in itertools.product(list(table), repeat=2)
]


@pytest.mark.parametrize(("machine", "table", "factory", "apply", "current", "requested"), CASES)
def test_transition(
    db_session: Session,
    machine: str,
    table: Mapping[StrEnum, frozenset[StrEnum]],
    factory: Callable[..., Any],
    apply: Callable[..., bool],
    current: StrEnum,
    requested: StrEnum,
) -> None:
    record = factory(db_session, status=current)
    if requested == current:
        assert apply(record, requested) is False  # a redelivered message changes nothing
        expected = current
    elif requested in table[current]:
        assert apply(record, requested) is True
        expected = requested
    else:
        with pytest.raises(IllegalTransitionError) as refused:
            apply(record, requested)
        assert refused.value.machine == machine
        assert (refused.value.current, refused.value.requested) == (current.value, requested.value)
        expected = current
    db_session.flush()
    db_session.expire(record)
    assert record.status == expected


def test_every_status_has_a_row_in_its_table() -> None:
    for _, table, _, _ in MACHINES:
        statuses = type(next(iter(table)))
        assert set(table) == set(statuses)
        assert all(targets <= set(statuses) for targets in table.values())


def test_lock_keeps_reason_and_unlock_clears_it(db_session: Session) -> None:
    from upload_common.statuses import AreaStatus  # noqa: PLC0415

    area = make_area(db_session)
    transition_area(area, AreaStatus.LOCKED, reason="submission frozen")
    assert area.lock_reason == "submission frozen"
    transition_area(area, AreaStatus.UNLOCKED)
    assert area.lock_reason is None


def test_locking_and_unlocking_stamp_the_lock_period(db_session: Session) -> None:
    from upload_common.statuses import AreaStatus  # noqa: PLC0415

    area = make_area(db_session)
    assert (area.locked_at, area.unlocked_at) == (None, None)
    transition_area(area, AreaStatus.LOCKED)
    locked_at = area.locked_at
    assert locked_at is not None
    assert area.unlocked_at is None
    transition_area(area, AreaStatus.LOCKED)  # repeated: the lock began when it began
    assert area.locked_at == locked_at
    transition_area(area, AreaStatus.UNLOCKED)
    assert area.unlocked_at is not None
    assert area.unlocked_at >= locked_at
    assert area.locked_at == locked_at  # the period is kept: late events of writes in it are judged by it
    transition_area(area, AreaStatus.LOCKED)  # a new period
    assert area.locked_at is not None
    assert area.locked_at >= locked_at
    assert area.unlocked_at is None


def test_checksum_timestamps_follow_the_run(db_session: Session) -> None:
    from upload_common.statuses import ChecksumStatus  # noqa: PLC0415

    run = make_checksum(db_session)
    transition_checksum(run, ChecksumStatus.CHECKSUMMING)
    assert run.started_at is not None
    assert run.ended_at is None
    transition_checksum(run, ChecksumStatus.FAILED, reason="job failed: OOM")
    db_session.flush()
    db_session.expire(run)
    assert run.ended_at is not None
    assert run.ended_at.tzinfo is not None
    assert run.reason == "job failed: OOM"


def test_redelivery_after_failure_restarts_notification_budget(db_session: Session) -> None:
    from upload_common.statuses import NotificationStatus  # noqa: PLC0415

    notification = make_notification(db_session, status=NotificationStatus.FAILED, attempts=9)
    assert transition_notification(notification, NotificationStatus.PENDING) is True
    assert notification.attempts == 0
