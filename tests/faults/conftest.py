"""Fault-injection suite: the real stack under duplicated, reordered and late events, killed processes,
ingest down, cut-off uploads and uploads racing deletion. Prints its table at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from faults.harness import ROWS
from integration.stack import Stack
from support.ingest_server import FakeIngest

# Short timeouts so that redelivery and take-over happen within a test; backoff fast for ingest down.
FAST = {
    "UPLOAD_QUEUE_VISIBILITY_TIMEOUT_SECONDS": "3",
    "UPLOAD_CHECKSUM_STALE_AFTER_SECONDS": "6",
    "UPLOAD_NOTIFICATION_BACKOFF_SECONDS": "0.2",
    "UPLOAD_NOTIFICATION_BACKOFF_MAX_SECONDS": "1",
}


@pytest.fixture(scope="module")
def ingest() -> Iterator[FakeIngest]:
    with FakeIngest(secret="faults-ingest-secret") as receiver:
        yield receiver


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, ingest: FakeIngest) -> Iterator[Stack]:
    """The embedded default (local store, SQLite, database queue) for the module's cases."""
    stack = Stack(tmp_path_factory.mktemp("faults-embedded"), ingest.environment() | FAST)
    stack.migrate()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault injection: final states")
    write("| case | injected | final state of every version | versions notified (once each) | lost |")
    write("|---|---|---|---|---|")
    for row in ROWS:
        write(f"| {row.case} | {row.injected} | {'; '.join(row.final)} | {row.notifications} | {row.lost} |")
