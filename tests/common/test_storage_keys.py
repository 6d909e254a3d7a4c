"""Key, prefix, metadata and tag rules shared by every store."""

from __future__ import annotations

import hashlib

import pytest

from upload_common.errors import InvalidInputError, InvalidNameError
from upload_common.storage.keys import validate_key, validate_metadata, validate_prefix, validate_tags


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_digest(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "area/file",
        "area/dir/sub dir/file name.fastq.gz",
        "area/é 日本 🧬",
        "area/...",
        "area/.hidden",
        "a" * 1024,
    ],
)
def test_valid_keys_are_returned_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/a",
        "a/",
        "a//b",
        ".",
        "..",
        "a/./b",
        "a/../b",
        "../a",
        "a\\b",
        "a\x00b",
        "a\tb",
        "a\x7fb",
        "a\u0085b",
        "a\ud800",
        "a" * 1025,
        "é" * 513,
    ],
    ids=repr,
)
def test_invalid_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_key(key)


@pytest.mark.parametrize("prefix", ["", "area/", "area", "area/sub", "area/sub/", "area/.x"])
def test_valid_prefixes(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["/", "/area", "../", "area/../", "a//", "a\x00", "a\\"], ids=repr)
def test_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_prefix(prefix)


def test_metadata_names_are_lowered_and_limits_enforced() -> None:
    assert validate_metadata({"Crc32c": "ab", "SHA256": "cd"}) == {"crc32c": "ab", "sha256": "cd"}
    assert validate_metadata(None) == {}
    for bad in ({"a b": "x"}, {"": "x"}, {"name": "é"}, {"name": "line\nbreak"}, {"n": "x" * 2048}):
        with pytest.raises(InvalidInputError):
            validate_metadata(bad)


def test_tag_limits() -> None:
    assert validate_tags({"hca-dss-sha1": "0a", "k": "value with: / = + - @ _ ."}) == {
        "hca-dss-sha1": "0a",
        "k": "value with: / = + - @ _ .",
    }
    for bad in (
        {f"k{i}": "v" for i in range(11)},
        {"": "v"},
        {"k" * 129: "v"},
        {"k": "v" * 257},
        {"k": "a;b"},
    ):
        with pytest.raises(InvalidInputError):
            validate_tags(bad)
