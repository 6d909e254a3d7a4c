"""The retry schedule of a notification, as a tenacity wait strategy evaluated per attempt.

The dispatcher does not sleep: it stores `now + retry_delay(...)` as the row's next attempt time, so
nothing waits on a receiver that is down.
"""

from __future__ import annotations

from datetime import timedelta

from tenacity import RetryCallState, Retrying, wait_exponential, wait_random


def retry_delay(attempts: int, *, initial: float, maximum: float) -> timedelta:
    """Delay after the `attempts`-th failed attempt (1-based): `initial` doubling up to `maximum`, plus
    up to `initial` of random jitter, which survives the cap so that rows failed together spread out."""
    strategy = wait_exponential(multiplier=initial, max=maximum) + wait_random(0, initial)
    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = max(1, attempts)
    return timedelta(seconds=strategy(state))
