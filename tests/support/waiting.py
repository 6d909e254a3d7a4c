"""Waiting on a condition, never on a guessed duration: tests must pass on a loaded machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, timeout: float = 60.0, what: str = "the condition") -> T:
    """Poll `condition` until it returns something truthy (returned); `AssertionError` after `timeout`
    seconds, a bound far above what a loaded machine needs, never a measure of speed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(0.02)
