"""A 100,000-entry manifest is put and read in bounded memory (tracemalloc's peak while each runs)."""

from __future__ import annotations

import hashlib
import io
import logging
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, text

from upload_api.context import ApiContext
from upload_api.services import manifests
from upload_common.domain.areas import create_area
from upload_common.domain.manifests import settle_completeness
from upload_common.models import UploadArea

logger = logging.getLogger(__name__)
ENTRIES = 100_000
MIB = 1024 * 1024
T = TypeVar("T")


class _ManifestBody(io.RawIOBase):
    """The manifest's JSON, made as it is read (as a client's upload arrives): never whole in memory."""

    def __init__(self, entries: int) -> None:
        self._pieces = self._generate(entries)
        self._buffer = b""
        self.size = 0

    @staticmethod
    def _generate(entries: int) -> Iterator[bytes]:
        yield b'{"files": ['
        for i in range(entries):
            sha256 = hashlib.sha256(str(i).encode()).hexdigest()
            yield (b"," if i else b"") + (
                f'{{"name": "dir/file-{i:06d}", "size": {i}, "sha256": "{sha256}"}}'.encode()
            )
        yield b"]}"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self._buffer) < len(buffer):
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        count = min(len(buffer), len(self._buffer))
        buffer[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        self.size += count
        return count


def _peak(run: Callable[[], T]) -> tuple[T, int]:
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_hundred_thousand_entry_manifest_in_bounded_memory(api_context: ApiContext) -> None:
    area_uuid = str(uuid.uuid4())
    with api_context.sessions.begin() as session:
        create_area(session, area_uuid, bucket="test-bucket")
        area_id = session.scalars(select(UploadArea.id).where(UploadArea.uuid == area_uuid)).one()
        # Every other expected file is stored and checksummed as the manifest says; the rest are missing.
        session.execute(
            text(
                "INSERT INTO file (area_id, name, size, etag, status, origin, current, checksums, "
                "created_at, updated_at) "
                "SELECT :area, 'dir/file-' || lpad(i::text, 6, '0'), i, md5(i::text), 'CHECKSUMMED', "
                "'store', true, json_build_object('sha256', encode(sha256(i::text::bytea), 'hex')), "
                "now(), now() FROM generate_series(0, :n - 1, 2) AS i"
            ),
            {"area": area_id, "n": ENTRIES},
        )
        session.execute(text("ANALYZE file"))

    body = _ManifestBody(ENTRIES)
    answer, put_peak = _peak(lambda: manifests.put_manifest(api_context, area_uuid, body))
    assert answer == {"upload_area_id": area_uuid, "expected_files": ENTRIES, "complete": False}

    def read_document() -> tuple[int, bytes]:
        size, head = 0, b""
        for piece in manifests.manifest_document(api_context, area_uuid):
            head = head or piece[:200]
            size += len(piece)
        return size, head

    # One file event settles completeness by the entry's own mark and an indexed lookup, not a pass
    # over the 100,000 entries (logged: the figure of the closing note).
    started = time.perf_counter()
    with api_context.sessions.begin() as session:
        settle_completeness(session, area_id, "dir/file-000001")
    settle_ms = (time.perf_counter() - started) * 1000

    (document_bytes, head), get_peak = _peak(read_document)
    assert head.startswith(
        f'{{"upload_area_id": "{area_uuid}", "complete": false, "verdicts": {{"missing": 50000, '.encode()
    )
    logger.warning(  # the figure the closing note reports (shown with the test's output)
        "manifest of %d entries: PUT body %.1f MiB, peak %.1f MiB; GET document %.1f MiB, peak %.1f MiB; "
        "one file event settled in %.1f ms",
        ENTRIES,
        body.size / MIB,
        put_peak / MIB,
        document_bytes / MIB,
        get_peak / MIB,
        settle_ms,
    )
    # The PUT spools at most 1 MiB of its body in memory (then a temporary file); the GET holds a page.
    assert put_peak < 8 * MIB < body.size
    assert get_peak < 8 * MIB < document_bytes
