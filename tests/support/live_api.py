"""The API served for real: uvicorn on 127.0.0.1 in a thread of the test process, over a scratch
PostgreSQL database whose writes really commit (concurrent requests need connections of their own, so
the rolled-back test transaction cannot serve them).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from upload_api.app import create_app
from upload_api.context import ApiContext
from upload_common.db import make_engine, make_session_factory
from upload_common.settings import Settings
from upload_common.storage import ObjectStore

API_KEY = "live-api-key"


def live_context(database_url: str, store: ObjectStore, **overrides: Any) -> ApiContext:
    """A context whose queues live in the same database (`db://`), so nothing else must run;
    `overrides`: more settings."""
    settings = Settings(
        database_url=database_url,
        storage_url=store.url,
        queue_url="db://",
        api_keys=(API_KEY,),
        secret_key="live-test-secret",
        **overrides,
    )
    engine = make_engine(database_url)
    return ApiContext(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        store=store,
        api_keys=(API_KEY.encode(),),
        secret_key="live-test-secret",
    )


@contextmanager
def serving(context: ApiContext) -> Iterator[tuple[str, int]]:
    """The API of `context` under uvicorn (as `upload-api serve` runs it); yields (host, port)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(create_app(context), lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), what="uvicorn to start")
        if not server.started:
            raise RuntimeError("uvicorn did not start (see the log above)")
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
        context.engine.dispose()


def wait_for(predicate: Any, *, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll `predicate` until it is true; a generous bound, as the machine may be loaded."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout} s")
        time.sleep(0.01)
