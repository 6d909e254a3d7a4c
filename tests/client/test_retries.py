"""Retries, backoff and error mapping against a scripted HTTP server on 127.0.0.1 (no real waiting)."""

from __future__ import annotations

import email.utils
import io
import socket
from pathlib import Path

import pytest

from support.scripted_server import Answer, scripted
from upload_client import (
    ApiConnectionError,
    ApiError,
    BadRequestError,
    Client,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    Retry,
    ServerError,
    TooManyRequestsError,
    UnauthorizedError,
)
from upload_client.client import CHUNK_SIZE

AREA = "7b0b8f5e-0c4f-4d0e-9a1e-2f6c5d4b3a21"
KEY = "very-secret-api-key-123"
NOW = 1_800_000_000.0


class Sleeps(list[float]):
    """The injected sleep: records every wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def policy(sleeps: Sleeps, attempts: int = 4) -> Retry:
    # random() == 1.0: each backoff is its upper bound, base_delay·2^(n-1), so waits are predictable.
    return Retry(
        attempts=attempts, base_delay=0.5, max_delay=3.0, sleep=sleeps, clock=lambda: NOW, random=lambda: 1.0
    )


def test_a_503_then_200_is_retried_after_a_jittered_backoff(sleeps: Sleeps) -> None:
    with (
        scripted(
            [
                Answer(503, {"status": 503, "title": "Service Unavailable"}),
                Answer(200, {"upload_service_version": "1.2.3"}),
            ]
        ) as server,
        Client(server.url, retries=policy(sleeps)) as api,
    ):
        assert api.version() == {"upload_service_version": "1.2.3"}
    assert len(server.received) == 2
    assert sleeps == [0.5]


def test_backoff_grows_exponentially_up_to_the_cap_and_then_raises(sleeps: Sleeps) -> None:
    with (
        scripted([Answer(502, {"status": 502, "title": "Bad Gateway", "detail": "upstream"})]) as server,
        Client(server.url, retries=policy(sleeps, attempts=5)) as api,
        pytest.raises(ServerError) as raised,
    ):
        api.health()
    assert len(server.received) == 5
    assert sleeps == [0.5, 1.0, 2.0, 3.0]
    assert (raised.value.status, raised.value.title, raised.value.detail) == (502, "Bad Gateway", "upstream")


def test_full_jitter_draws_within_the_bound() -> None:
    retry = Retry(base_delay=1.0, max_delay=10.0, random=lambda: 0.25)
    assert [retry.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.25, 0.5, 1.0, 2.0, 2.5]


def test_a_429_waits_exactly_its_retry_after_seconds(sleeps: Sleeps) -> None:
    limited = Answer(429, {"status": 429, "title": "Too Many Requests"}, {"Retry-After": "7"})
    with (
        scripted([limited, Answer(200, {"files": [], "next_cursor": None})]) as server,
        Client(server.url, retries=policy(sleeps)) as api,
    ):
        assert api.list_files(AREA) == {"files": [], "next_cursor": None}
    assert sleeps == [7.0]
    assert len(server.received) == 2


def test_a_retry_after_http_date_is_read_against_the_clock(sleeps: Sleeps) -> None:
    when = email.utils.formatdate(NOW + 42, usegmt=True)
    with (
        scripted([Answer(503, None, {"Retry-After": when}), Answer(200, {"status": "ok"})]) as server,
        Client(server.url, retries=policy(sleeps)) as api,
    ):
        assert api.health()["status"] == "ok"
    assert sleeps == [42.0]


def test_a_retry_after_beyond_the_limit_is_raised_not_waited(sleeps: Sleeps) -> None:
    retry = Retry(attempts=3, max_retry_after=60, sleep=sleeps)
    with (
        scripted(
            [Answer(429, {"status": 429, "title": "Too Many Requests"}, {"Retry-After": "3600"})]
        ) as server,
        Client(server.url, retries=retry) as api,
        pytest.raises(TooManyRequestsError),
    ):
        api.area_checksums(AREA)
    assert sleeps == []
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, UnauthorizedError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, PayloadTooLargeError),
        (418, ApiError),
    ],
)
def test_a_4xx_is_raised_at_once_as_its_typed_error(
    sleeps: Sleeps, status: int, error: type[ApiError]
) -> None:
    problem = {"status": status, "title": "Refused", "detail": "because", "type": "about:blank"}
    with (
        scripted([Answer(status, problem)]) as server,
        Client(server.url, KEY, retries=policy(sleeps)) as api,
        pytest.raises(error) as raised,
    ):
        api.file_info(AREA, "a.json")
    assert type(raised.value) is error
    assert len(server.received) == 1
    assert sleeps == []
    assert (raised.value.status, raised.value.title, raised.value.detail, raised.value.type) == (
        status,
        "Refused",
        "because",
        "about:blank",
    )
    assert raised.value.body == problem


def test_connection_errors_are_retried_then_raised(sleeps: Sleeps) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        Client(f"http://127.0.0.1:{port}", KEY, retries=policy(sleeps, attempts=3)) as api,
        pytest.raises(ApiConnectionError) as raised,
    ):
        api.version()
    assert sleeps == [0.5, 1.0]
    assert KEY not in str(raised.value)
    assert KEY not in repr(raised.value)
    assert raised.value.__cause__ is None  # httpx's error (and its request headers) is not kept


def test_the_api_key_is_sent_and_never_in_an_error(sleeps: Sleeps) -> None:
    echo = {"status": 401, "title": f"bad key {KEY}", "detail": f"Api-Key {KEY} is not accepted"}
    with scripted([Answer(401, echo)]) as server, Client(server.url, KEY, retries=policy(sleeps)) as api:
        with pytest.raises(UnauthorizedError) as raised:
            api.create_area(AREA)
        assert KEY not in repr(api)
    assert server.received[0].headers["Api-Key"] == KEY
    for text in (
        str(raised.value),
        repr(raised.value),
        repr(raised.value.body),
        raised.value.title,
        str(raised.value.detail),
        repr(raised.value.args),
    ):
        assert KEY not in text


def test_a_file_put_is_streamed_in_pieces_and_rewound_for_a_retry(sleeps: Sleeps, tmp_path: Path) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE // 256 * 3 + 7)  # three pieces and a bit

    class Watched(io.BytesIO):
        largest_read = 0

        def read(self, size: int | None = -1, /) -> bytes:
            if size is None or size < 0:
                raise AssertionError("the client read the whole file")
            Watched.largest_read = max(Watched.largest_read, size)
            return super().read(size)

    stored = {
        "name": "x.bin",
        "size": len(data),
        "upload_area_id": AREA,
        "url": "file:///x",
        "checksums": None,
    }
    with (
        scripted(
            [Answer(500, {"status": 500, "title": "Internal Server Error"}), Answer(201, stored)]
        ) as server,
        Client(server.url, KEY, retries=policy(sleeps)) as api,
    ):
        file = Watched(b"prefix" + data)
        file.seek(len(b"prefix"))  # sent from where the file is
        assert (
            api.put_file(AREA, "dir/x y.bin", file, content_type='application/octet-stream; dcp-type="data"')
            == stored
        )
    assert Watched.largest_read == CHUNK_SIZE
    assert [r.body for r in server.received] == [data, data]
    assert server.received[0].path == f"/v1/area/{AREA}/dir%2Fx%20y.bin"
    assert server.received[0].headers["Content-Length"] == str(len(data))
    assert server.received[0].headers["Content-Type"] == 'application/octet-stream; dcp-type="data"'


def test_a_put_from_a_file_that_cannot_rewind_is_sent_once(sleeps: Sleeps) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            return self._data.readinto(buffer)

    with (
        scripted([Answer(503, {"status": 503, "title": "Service Unavailable"})]) as server,
        Client(server.url, KEY, retries=policy(sleeps)) as api,
        pytest.raises(ServerError),
    ):
        api.put_file(
            AREA,
            "p.bin",
            io.BufferedReader(Pipe(b"streamed")),
            content_type='application/octet-stream; dcp-type="data"',
        )
    assert [r.body for r in server.received] == [b"streamed"]  # chunked: no length known
    assert sleeps == []


def test_retries_as_a_number_is_the_number_of_attempts() -> None:
    with (
        scripted([Answer(503, {"status": 503, "title": "Service Unavailable"})]) as server,
        Client(server.url, retries=1) as api,
        pytest.raises(ServerError),
    ):
        api.version()
    assert len(server.received) == 1
