"""The status a job reports through a callback: one of the statuses a job may report, or a 400."""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import TypeVar

from upload_common.errors import InvalidInputError

E = TypeVar("E", bound=StrEnum)


def reported_status(value: str, statuses: type[E], reportable: Collection[E]) -> E:
    try:
        status = statuses(value)
    except ValueError:
        raise InvalidInputError(f"unknown status {value!r}") from None
    if status not in reportable:
        raise InvalidInputError(f"a job cannot report {value}")
    return status
