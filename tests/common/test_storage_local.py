"""What only the local store has to get right: its root is a wall, its writes are atomic, its records
always describe the bytes they sit next to."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

import pytest

from upload_common.errors import ConfigurationError, InvalidNameError
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
    with pytest.raises(InvalidNameError):
        store.delete_many([f"{AREA}/secret"])
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
