"""What only the local store has to get right: its root is a wall, its writes are atomic, its records
always describe the bytes they sit next to."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from upload_common.errors import ConfigurationError, InvalidInputError, InvalidNameError
from upload_common.storage import LocalObjectStore
from upload_common.storage.local import INTERNAL_DIR

AREA = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(root: Path) -> LocalObjectStore:
    return LocalObjectStore(root)


def test_url_and_object_url_name_the_files(store: LocalObjectStore, root: Path) -> None:
    store.put(f"{AREA}/a b/é.txt", io.BytesIO(b"x"))

    assert store.url == f"file://{root}"
    assert store.object_url(f"{AREA}/a b/é.txt") == f"file://{root}/{AREA}/a b/é.txt"
    assert (root / AREA / "a b" / "é.txt").read_bytes() == b"x"


def test_a_relative_root_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        LocalObjectStore(Path("relative/store"))


def test_a_symbolic_link_out_of_the_root_is_refused(
    store: LocalObjectStore, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    (root / AREA).symlink_to(outside)

    with pytest.raises(InvalidNameError):
        store.put(f"{AREA}/planted", io.BytesIO(b"x"))
    with pytest.raises(InvalidNameError):
        store.open(f"{AREA}/secret")
    store.delete_many([f"{AREA}/secret"])  # deleting never refuses a key; it touches nothing outside
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"not yours"


def test_the_store_s_own_directory_is_not_part_of_the_namespace(store: LocalObjectStore) -> None:
    with pytest.raises(InvalidNameError):
        store.put(f"{INTERNAL_DIR}/lock", io.BytesIO(b"x"))
    with pytest.raises(InvalidNameError):
        store.head(f"{INTERNAL_DIR}/meta/x")
    store.put(f"{AREA}/x", io.BytesIO(b"x"))
    assert [info.key for info in store.list("")] == [f"{AREA}/x"]
    assert list(store.list(f"{INTERNAL_DIR}/")) == []


def test_a_name_that_clashes_with_a_file_or_directory_is_refused(store: LocalObjectStore) -> None:
    store.put(f"{AREA}/a", io.BytesIO(b"file"))
    store.put(f"{AREA}/d/inner", io.BytesIO(b"inner"))

    with pytest.raises(InvalidNameError):
        store.put(f"{AREA}/a/b", io.BytesIO(b"x"))
    with pytest.raises(InvalidNameError):
        store.put(f"{AREA}/d", io.BytesIO(b"x"))
    assert store.head(f"{AREA}/a").size == 4


def test_a_segment_longer_than_the_file_system_allows_is_refused(store: LocalObjectStore) -> None:
    with pytest.raises(InvalidNameError):
        store.put(f"{AREA}/{'x' * 256}", io.BytesIO(b"x"))


def test_no_temporary_file_is_left_behind(store: LocalObjectStore, root: Path) -> None:
    store.put(f"{AREA}/x", io.BytesIO(b"x" * 100))
    store.put_tags(f"{AREA}/x", {"k": "v"})
    closed = io.BytesIO(b"")
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        store.put(f"{AREA}/y", closed)

    assert list((root / INTERNAL_DIR / "tmp").iterdir()) == []


def test_a_file_put_there_by_hand_gets_a_record_from_its_bytes(store: LocalObjectStore, root: Path) -> None:
    (root / AREA).mkdir()
    (root / AREA / "by-hand").write_bytes(b"hello")

    info = store.head(f"{AREA}/by-hand")

    assert info.etag == md5_hex(b"hello")
    assert info.size == 5
    assert info.content_type == "application/octet-stream"
    assert [i.key for i in store.list(f"{AREA}/")] == [f"{AREA}/by-hand"]


def test_a_record_that_describes_other_bytes_is_never_used(store: LocalObjectStore, root: Path) -> None:
    # As after a crash between renaming the bytes and renaming their record.
    key = f"{AREA}/file"
    store.put(key, io.BytesIO(b"old bytes"))
    store.put_tags(key, {"hca-dss-sha1": "of-the-old-bytes"})
    replacement = root / "replacement"
    replacement.write_bytes(b"new bytes!")
    replacement.replace(root / AREA / "file")

    assert store.head(key).etag == md5_hex(b"new bytes!")
    assert store.get_tags(key) == {}  # the old version's checksums do not stick to new bytes


def test_readers_never_pair_a_record_with_other_bytes_while_a_writer_replaces_them(
    store: LocalObjectStore,
) -> None:
    key, copy = f"{AREA}/busy", f"{AREA}/snapshot"
    versions = {b"a" * 10: "text/a", b"b" * 20: "text/b"}
    store.put(key, io.BytesIO(b"a" * 10), content_type="text/a")
    stop = threading.Event()
    seen: list[tuple[bytes, str | None]] = []

    def write() -> None:
        for i in range(200):
            data = b"a" * 10 if i % 2 else b"b" * 20
            store.put(key, io.BytesIO(data), content_type=versions[data])
        stop.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not stop.is_set():
        # A copy takes the source's bytes and its record together: they must be of one version.
        info = store.copy(key, copy)
        with store.open(copy) as stream:
            seen.append((stream.read(), info.content_type))
    writer.join()

    assert len({data for data, _ in seen}) == 2  # the reader did see both versions
    assert all(versions[data] == content_type for data, content_type in seen)


def test_writes_are_readable_by_a_fresh_store_on_the_same_root(root: Path) -> None:
    LocalObjectStore(root).put(f"{AREA}/x", io.BytesIO(b"persisted"), metadata={"crc32c": "00000000"})
    LocalObjectStore(root).put_tags(f"{AREA}/x", {"k": "v"})

    again = LocalObjectStore(root)
    assert again.head(f"{AREA}/x").metadata == {"crc32c": "00000000"}
    assert again.get_tags(f"{AREA}/x") == {"k": "v"}
    assert (root / AREA / "x").stat().st_size == 9


class _BreaksOff(io.RawIOBase):
    """A stream that gives some bytes, then raises `error` (as a cut-off upload or Ctrl-C would)."""

    def __init__(self, error: BaseException) -> None:
        self._error = error
        self._given = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._given:
            raise self._error
        self._given = True
        buffer[:3] = b"new"
        return 3


@pytest.mark.parametrize(
    "error",
    [
        KeyboardInterrupt(),
        GeneratorExit(),
        asyncio.CancelledError(),
        concurrent.futures.CancelledError(),
        InvalidInputError("the connection closed before the body ended"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_an_aborted_write_removes_its_temporary_file_at_once(
    store: LocalObjectStore, root: Path, error: BaseException
) -> None:
    key = f"{AREA}/kept"
    store.put(key, io.BytesIO(b"old version"))

    with pytest.raises(type(error)):
        store.put(key, cast(BinaryIO, _BreaksOff(error)))

    assert list((root / INTERNAL_DIR / "tmp").iterdir()) == []
    with store.open(key) as stream:
        assert stream.read() == b"old version"


_BLOCKED_WRITER = """
import io, sys
from pathlib import Path
from upload_common.storage import LocalObjectStore

class Blocks(io.RawIOBase):
    calls = 0
    def readable(self): return True
    def readinto(self, buffer):
        Blocks.calls += 1
        if Blocks.calls == 2:
            print("blocked", flush=True)
            sys.stdin.buffer.read(1)  # until the test kills this process
        buffer[:4] = b"data"
        return 4

LocalObjectStore(Path(sys.argv[1])).put(sys.argv[2], Blocks())
"""


def test_temporary_files_of_a_killed_writer_are_swept_when_a_store_opens(root: Path) -> None:
    LocalObjectStore(root)
    temporary = root / INTERNAL_DIR / "tmp"
    with subprocess.Popen(
        [sys.executable, "-c", _BLOCKED_WRITER, str(root), f"{AREA}/big"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline() == b"blocked\n"
            [part] = list(temporary.iterdir())

            # Another process opening the store (a second API, a worker starting) leaves a live write alone.
            assert LocalObjectStore(root).sweep_temporary() == 0
            assert part.exists()
        finally:
            writer.kill()

    LocalObjectStore(root)  # as the next start-up does
    assert list(temporary.iterdir()) == []
    assert not (root / AREA / "big").exists()


def test_a_sweep_while_a_thread_writes_does_not_disturb_the_write(
    store: LocalObjectStore, root: Path
) -> None:
    started, proceed = threading.Event(), threading.Event()

    class Waits(io.RawIOBase):
        def __init__(self) -> None:
            self._chunks = [b"first ", b"second"]

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if len(self._chunks) == 1:
                started.set()
                proceed.wait(timeout=60)
            if not self._chunks:
                return 0
            chunk = self._chunks.pop(0)
            buffer[: len(chunk)] = chunk
            return len(chunk)

    writer = threading.Thread(target=store.put, args=(f"{AREA}/w", cast(BinaryIO, Waits())))
    writer.start()
    assert started.wait(timeout=60)
    assert LocalObjectStore(root).sweep_temporary() == 0
    proceed.set()
    writer.join()

    with store.open(f"{AREA}/w") as stream:
        assert stream.read() == b"first second"
    assert list((root / INTERNAL_DIR / "tmp").iterdir()) == []
