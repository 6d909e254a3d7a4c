"""Rate limits of the unauthenticated endpoints: per client address and per upload area.

An area id is the only capability these endpoints ask for, so anyone who knows one (or guesses ids)
could issue STS sessions, queue checksums or make the service look up 1,000 names per request without
end. Each such request takes a token from two buckets, its client address's and its area's; an empty
bucket answers 429 `application/problem+json` with `Retry-After` (the seconds until the bucket holds a
token again) and a detail naming the limit. Requests that present a valid `Api-Key` (ingest) are not
limited, nor are the Api-Key and job-token endpoints: those callers are trusted. A request that
presents a `Submitter-Link` (a capability anyone holding the URL may use) is limited like the
unauthenticated ones, per client address and per the area of its path, whatever the route, and before
its token is even checked (so guessing tokens costs the same).

The buckets live in memory, per process: behind several processes (or Lambda containers) each has its
own, so the service-wide limit is a multiple of the one configured; on AWS the gateway's per-route
throttling is the real guard (docs/operations.md). Memory is bounded: a bucket that has refilled holds
no state and is dropped, and beyond `max_buckets` per kind the least recently used one is forgotten.

The client address is the connection's, never a header a client can write, unless
`UPLOAD_TRUSTED_PROXY_HOPS` says how many proxies in front append to `X-Forwarded-For`. IPv6 clients
count per /64, the block one host usually holds.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from upload_api.auth import api_key_matches
from upload_api.problems import PROBLEM_JSON
from upload_common.settings import Settings

Clock = Callable[[], float]  # seconds, monotonic

# The limited routes (raw paths: a file name's `%2F` stays inside its segment), with the area segment.
# POST …/{filename} is "the file was uploaded, checksum it"; …/lock (Api-Key) is the only other POST
# with one segment after the area.
_LIMITED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("POST", re.compile(r"^/v1/area/([^/]+)/(?!lock$)[^/]+$")),  # credentials, notify_uploaded
    ("PUT", re.compile(r"^/v1/area/([^/]+)/files_info$")),  # up to 1,000 lookups per request
    ("GET", re.compile(r"^/v1/area/([^/]+)/(?:files|checksums|validations)$")),  # whole-area reads
    ("GET", re.compile(r"^/v2/areas/([^/]+)$")),  # the area's summary: aggregates over all its files
)


# Requests authorised by a submitter link: any route under the area's /v2 path.
_LINK_AREA = re.compile(r"^/v2/areas/([^/]+)(?:/|$)")


def limited_area(method: str, raw_path: str, *, submitter_link: bool = False) -> str | None:
    """The area segment of a request to a limited endpoint (or of any /v2 area request that presents
    a submitter link), or None when the request is not limited."""
    for limited_method, pattern in _LIMITED:
        if method == limited_method and (match := pattern.match(raw_path)):
            return match[1]
    if submitter_link and (match := _LINK_AREA.match(raw_path)):
        return match[1]
    return None


@dataclass(frozen=True)
class Limit:
    """`per_minute` requests on average, `burst` at once; `per_minute == 0`: no limit."""

    per_minute: int
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def describe(self) -> str:
        return f"{self.per_minute} requests per minute, bursts of {self.burst}"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """The buckets of one kind of limit, by key: the least recently used are forgotten first."""

    def __init__(self, limit: Limit, *, max_buckets: int) -> None:
        self.limit = limit
        self._rate = limit.per_minute / 60.0  # tokens per second
        self._max = max_buckets
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def wait(self, key: str, now: float) -> float:
        """Seconds until the key's bucket holds a token (0: it holds one now)."""
        bucket = self._refilled(key, now)
        return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / self._rate

    def take(self, key: str, now: float) -> None:
        self._refilled(key, now).tokens -= 1.0

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[key] = _Bucket(float(self.limit.burst), now)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(now - bucket.updated, 0.0)
            bucket.tokens = min(float(self.limit.burst), bucket.tokens + elapsed * self._rate)
            bucket.updated = now
        return bucket

    def _make_room(self, now: float) -> None:
        # Idle buckets that have refilled are the same as new ones: dropping them loses nothing.
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            refilled = oldest.tokens + max(now - oldest.updated, 0.0) * self._rate >= self.limit.burst
            if not refilled and len(self._buckets) < self._max:
                return
            del self._buckets[key]  # refilled, or the least recently used one beyond the cap


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # whole seconds, rounded up
    detail: str


class RateLimiter:
    """Per-client and per-area token buckets; `check` takes one token from each, or refuses."""

    def __init__(
        self,
        client: Limit,
        area: Limit,
        *,
        max_buckets: int = 10000,
        trusted_proxy_hops: int = 0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.clients = TokenBuckets(client, max_buckets=max_buckets)
        self.areas = TokenBuckets(area, max_buckets=max_buckets)
        self.trusted_proxy_hops = trusted_proxy_hops
        self._clock = clock
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.monotonic) -> RateLimiter:
        return cls(
            Limit(settings.rate_limit_client_per_minute, settings.rate_limit_client_burst),
            Limit(settings.rate_limit_area_per_minute, settings.rate_limit_area_burst),
            max_buckets=settings.rate_limit_max_buckets,
            trusted_proxy_hops=settings.trusted_proxy_hops,
            clock=clock,
        )

    def check(self, client: str, area: str) -> Refusal | None:
        """Take a token from the client's and the area's buckets, or neither (a `Refusal`) when one is
        empty."""
        with self._lock:
            now = self._clock()
            waits = []
            if self.clients.limit.enabled:
                waits.append((self.clients.wait(client, now), "from your address", self.clients.limit))
            if self.areas.limit.enabled:
                waits.append((self.areas.wait(area, now), f"to upload area {area}", self.areas.limit))
            refused = [(wait, whom, limit) for wait, whom, limit in waits if wait > 0]
            if not refused:
                if self.clients.limit.enabled:
                    self.clients.take(client, now)
                if self.areas.limit.enabled:
                    self.areas.take(area, now)
                return None
        wait, whom, limit = max(refused, key=lambda refusal: refusal[0])
        retry_after = max(1, math.ceil(wait))
        return Refusal(
            retry_after,
            f"too many requests {whom}: the limit is {limit.describe()}; retry after {retry_after} s",
        )

    def client_of(self, scope: Scope) -> str:
        """The client's address: the connection's, or the one the outermost trusted proxy saw."""
        peer = scope.get("client")
        address = str(peer[0]) if peer else "unknown"
        if self.trusted_proxy_hops:
            forwarded = [
                entry.strip()
                for name, value in scope["headers"]
                if name == b"x-forwarded-for"
                for entry in value.decode("latin-1").split(",")
            ]
            if len(forwarded) >= self.trusted_proxy_hops:
                # Each proxy appends the address it was connected from; entries left of the ones our
                # proxies wrote are whatever the client sent.
                address = forwarded[-self.trusted_proxy_hops]
        return _client_key(address)


def _client_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]  # not an address (a test client, a unix socket): counted as given
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class RateLimitMiddleware:
    """Answers 429 for a limited endpoint once its client or its area has used up its bucket."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, api_keys: tuple[bytes, ...]) -> None:
        self.app = app
        self.limiter = limiter
        self.api_keys = api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode("utf-8")
            link = any(name == b"submitter-link" for name, _ in scope["headers"])
            area = limited_area(scope["method"], raw.decode("latin-1"), submitter_link=link)
            if area is not None and not self._trusted(scope):
                refusal = self.limiter.check(self.limiter.client_of(scope), area)
                if refusal is not None:
                    await _too_many_requests(send, refusal)
                    return
        await self.app(scope, receive, send)

    def _trusted(self, scope: Scope) -> bool:
        key = next((value for name, value in scope["headers"] if name == b"api-key"), None)
        return key is not None and api_key_matches(key.decode("latin-1"), self.api_keys)


async def _too_many_requests(send: Send, refusal: Refusal) -> None:
    body = json.dumps(
        {"status": 429, "title": "Too Many Requests", "type": "about:blank", "detail": refusal.detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(refusal.retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
