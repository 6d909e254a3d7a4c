"""When to retry a request and how long to wait: exponential backoff with full jitter, or `Retry-After`."""

from __future__ import annotations

import datetime
import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# 429 and every 5xx may pass if asked again; other 4xx will not.
RETRY_STATUSES = frozenset({429, *range(500, 600)})


@dataclass(frozen=True)
class Retry:
    """Retry policy. `attempts` counts every try (1 = no retry).

    The n-th retry (n = 1, 2, …) waits a uniformly random time in [0, min(max_delay, base_delay·2^(n-1))]
    ("full jitter"), or exactly what the answer's `Retry-After` says; an answer that asks for more than
    `max_retry_after` seconds is returned to the caller instead. `sleep`, `clock` (epoch seconds, for
    `Retry-After` dates) and `random` are injectable so that tests never wait.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("Retry.attempts must be at least 1")

    def backoff(self, retry: int) -> float:
        """The jittered wait before retry number `retry` (1-based)."""
        return self.random() * min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))

    def retry_after(self, header: str | None) -> float | None:
        """Seconds to wait from `Retry-After` (delta-seconds or an HTTP date); None if absent or invalid."""
        if header is None:
            return None
        value = header.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read the same way
            when = when.replace(tzinfo=datetime.UTC)
        return max(0.0, when.timestamp() - self.clock())
