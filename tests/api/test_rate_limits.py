"""Rate limits of the unauthenticated endpoints, on the real app: per client address and per area, 429
problem+json with the bucket's real refill time, trusted callers and X-Forwarded-For. The limiter's
clock is driven by the tests (no sleeping)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from support.api_helpers import problem_of
from upload_api.app import create_app
from upload_api.context import ApiContext
from upload_api.rate_limits import Limit, RateLimiter, limited_area
from upload_common.settings import Settings

OFF = Limit(0, 1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


Connect = Callable[..., TestClient]


@pytest.fixture
def connect(api_context: ApiContext) -> Iterator[Connect]:
    """`connect(limiter, client=(address, port))`: a test client of the real app with that limiter."""
    opened: list[TestClient] = []

    def make(limiter: RateLimiter, client: tuple[str, int] = ("192.0.2.10", 50000)) -> TestClient:
        test_client = create_app(api_context, rate_limiter=limiter).test_client(client=client)
        opened.append(test_client.__enter__())
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


def area() -> str:
    return str(uuid.uuid4())


def test_the_burst_then_429_with_the_bucket_s_refill_time(connect: Connect, clock: FakeClock) -> None:
    # 30 a minute: one token every 2 s, 3 at once.
    api = connect(RateLimiter(Limit(30, 3), OFF, clock=clock))
    target = area()
    # The three endpoints named in the issue share the client's bucket (whatever each answers).
    answers = [
        api.post(f"/v1/area/{target}/credentials").status_code,
        api.post(f"/v1/area/{target}/r1.fastq").status_code,
        api.put(f"/v1/area/{target}/files_info", json=["r1.fastq"]).status_code,
    ]
    assert 429 not in answers

    refused = api.post(f"/v1/area/{target}/credentials")

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"
    problem = problem_of(refused)
    assert problem["title"] == "Too Many Requests"
    assert "from your address" in problem["detail"]
    assert "30 requests per minute, bursts of 3" in problem["detail"]
    clock.now += 1.5
    again = api.get(f"/v1/area/{target}/files")
    assert (again.status_code, again.headers["retry-after"]) == (429, "1")  # 0.5 s left: rounded up
    clock.now += 0.5
    assert api.get(f"/v1/area/{target}/files").status_code == 404  # a token again: the request runs
    assert api.get(f"/v1/area/{target}/checksums").status_code == 429


def test_areas_are_limited_apart_from_each_other(connect: Connect, clock: FakeClock) -> None:
    api = connect(RateLimiter(OFF, Limit(60, 2), clock=clock))
    busy, quiet = area(), area()
    for _ in range(2):
        assert api.post(f"/v1/area/{busy}/credentials").status_code != 429

    refused = api.post(f"/v1/area/{busy}/credentials")
    assert refused.status_code == 429
    assert f"to upload area {busy}" in problem_of(refused)["detail"]
    assert refused.headers["retry-after"] == "1"
    # Another client does not get around the area's limit; another area is not held back by it.
    other = connect(RateLimiter(OFF, Limit(60, 2), clock=clock), client=("198.51.100.7", 1))
    assert other.post(f"/v1/area/{quiet}/credentials").status_code != 429
    assert api.post(f"/v1/area/{quiet}/credentials").status_code != 429


def test_clients_are_limited_apart_from_each_other(connect: Connect, clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(60, 1), OFF, clock=clock)
    first = connect(limiter, client=("192.0.2.1", 40000))
    second = connect(limiter, client=("192.0.2.2", 40000))
    again_first = connect(limiter, client=("192.0.2.1", 40001))  # another connection, the same address

    assert first.put(f"/v1/area/{area()}/files_info", json=[]).status_code != 429
    assert again_first.put(f"/v1/area/{area()}/files_info", json=[]).status_code == 429
    assert second.put(f"/v1/area/{area()}/files_info", json=[]).status_code != 429


def test_trusted_callers_and_other_endpoints_are_not_limited(
    connect: Connect, clock: FakeClock, auth: dict[str, str]
) -> None:
    api = connect(RateLimiter(Limit(60, 1), Limit(60, 1), clock=clock))
    target = area()
    for _ in range(5):
        assert api.post(f"/v1/area/{target}", headers=auth).status_code == 201  # Api-Key endpoints
        assert api.post(f"/v1/area/{target}/lock", headers=auth).status_code == 204
        assert api.delete(f"/v1/area/{target}/lock", headers=auth).status_code == 204
        # Ingest calls the open endpoints with its key: not limited either.
        assert api.put(f"/v1/area/{target}/files_info", json=[], headers=auth).status_code == 200
        assert api.get(f"/v1/area/{target}/checksums", headers={"Api-Key": "second-key"}).status_code == 200
        # Cheap reads of one record, and job callbacks (job tokens; refused here for want of one).
        assert api.head(f"/v1/area/{target}").status_code == 200
        assert api.get(f"/v1/area/{target}/r1.fastq").status_code == 404
        callback = api.post(f"/v1/area/{target}/update_checksum/{uuid.uuid4()}", json={})
        assert callback.status_code == 401
    assert api.put(f"/v1/area/{target}/files_info", json=[]).status_code == 200
    # A wrong key is no key: the request counts.
    wrong = api.put(f"/v1/area/{target}/files_info", json=[], headers={"Api-Key": "not-a-key"})
    assert wrong.status_code == 429


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(connect: Connect, clock: FakeClock) -> None:
    untrusting = connect(RateLimiter(Limit(60, 1), OFF, clock=clock))
    assert (
        untrusting.post(f"/v1/area/{area()}/x", headers={"X-Forwarded-For": "203.0.113.1"}).status_code != 429
    )
    spoofed = untrusting.post(f"/v1/area/{area()}/x", headers={"X-Forwarded-For": "203.0.113.2"})
    assert spoofed.status_code == 429  # the connection's address counts, whatever the header says

    # One trusted proxy: the address it appended (the last one) counts; what the client put before is not.
    proxied = connect(RateLimiter(Limit(60, 1), OFF, trusted_proxy_hops=1, clock=clock))
    assert (
        proxied.post(f"/v1/area/{area()}/x", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.1"}).status_code
        != 429
    )
    assert (
        proxied.post(f"/v1/area/{area()}/x", headers={"X-Forwarded-For": "7.7.7.7, 203.0.113.1"}).status_code
        == 429
    )
    assert proxied.post(f"/v1/area/{area()}/x", headers={"X-Forwarded-For": "203.0.113.2"}).status_code != 429


def test_memory_stays_bounded_however_many_clients_come(connect: Connect, clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(60, 5), Limit(60, 5), max_buckets=20, trusted_proxy_hops=1, clock=clock)
    api = connect(limiter)
    for i in range(60):
        headers = {"X-Forwarded-For": f"203.0.113.{i}"}
        assert api.post(f"/v1/area/{area()}/x", headers=headers).status_code != 429
        assert len(limiter.clients) <= 20
        assert len(limiter.areas) <= 20
    # Directly, many more: never above the cap; once idle long enough to refill, they go entirely.
    for i in range(10000):
        limiter.check(f"client-{i}", f"area-{i % 300}")
        assert len(limiter.clients) <= 20
    clock.now += 60
    limiter.check("newcomer", "area")
    assert (len(limiter.clients), len(limiter.areas)) == (1, 1)


def test_the_limited_endpoints() -> None:
    a = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert limited_area("POST", f"/v1/area/{a}/credentials") == a
    assert limited_area("POST", f"/v1/area/{a}/dir%2Fr1.fastq") == a
    assert limited_area("PUT", f"/v1/area/{a}/files_info") == a
    for path in ("files", "checksums", "validations"):
        assert limited_area("GET", f"/v1/area/{a}/{path}") == a
    assert limited_area("POST", f"/v1/area/{a}/lock") is None
    assert limited_area("POST", f"/v1/area/{a}") is None
    assert limited_area("POST", f"/v1/area/{a}/update_checksum/{uuid.uuid4()}") is None
    assert limited_area("PUT", f"/v1/area/{a}/r1.fastq") is None
    assert limited_area("GET", f"/v1/area/{a}/r1.fastq") is None


def test_settings_set_the_limits_and_zero_disables_them(clock: FakeClock) -> None:
    limiter = RateLimiter.from_settings(
        Settings(rate_limit_client_per_minute=0, rate_limit_area_per_minute=120, rate_limit_area_burst=1),
        clock=clock,
    )
    for i in range(50):
        assert limiter.check("one client", f"area-{i}") is None
    assert limiter.check("one client", "area-0") is not None
    assert len(limiter.clients) == 0
    defaults = Settings()
    assert (defaults.rate_limit_client_per_minute, defaults.rate_limit_client_burst) == (600, 120)
    assert (defaults.rate_limit_area_per_minute, defaults.rate_limit_area_burst) == (1200, 240)
    assert defaults.trusted_proxy_hops == 0
