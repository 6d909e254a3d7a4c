"""Rules on keys, prefixes, metadata and tags shared by every store, so that what one accepts all accept."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from upload_common.checksums.part_size import MAX_PARTS
from upload_common.errors import InvalidInputError, InvalidNameError

MAX_KEY_BYTES = 1024  # S3's limit, applied everywhere so both stores accept the same keys


def validate_key(key: str) -> str:
    """Return `key` unchanged if every store can hold it, else raise `InvalidNameError`.

    Refused: empty, more than 1,024 bytes of UTF-8, control characters (NUL included), a backslash,
    a leading `/`, empty segments (`a//b`, a trailing `/`) and `.` or `..` segments.
    """
    _check_characters(key, what="key")
    if not key:
        raise InvalidNameError("an object key must not be empty")
    if key.startswith("/"):
        raise InvalidNameError(f"an object key must not start with '/': {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidNameError(f"an object key must not have empty, '.' or '..' segments: {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Return `prefix` unchanged if it can start a valid key (it may be empty or end with `/`)."""
    _check_characters(prefix, what="prefix")
    if prefix.startswith("/"):
        raise InvalidNameError(f"a prefix must not start with '/': {prefix!r}")
    for segment in prefix.split("/")[:-1]:  # the last one may be the start of a longer segment
        if segment in ("", ".", ".."):
            raise InvalidNameError(f"a prefix must not have empty, '.' or '..' segments: {prefix!r}")
    return prefix


def _check_characters(value: str, *, what: str) -> None:
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: no store can spell them
        raise InvalidNameError(f"an object {what} must be valid Unicode: {value!r}") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidNameError(f"an object {what} must be at most {MAX_KEY_BYTES} bytes of UTF-8")
    if "\\" in value:
        raise InvalidNameError(f"an object {what} must not contain a backslash: {value!r}")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidNameError(f"an object {what} must not contain control characters: {value!r}")


def validate_part_number(number: int) -> int:
    """Return `number` if it can number a part of a multipart upload (1..10,000, S3's limit)."""
    if not 1 <= number <= MAX_PARTS:
        raise InvalidInputError(f"a part number is 1..{MAX_PARTS}, not {number}")
    return number


MAX_METADATA_BYTES = 2048  # S3's limit on user metadata (names and values together)
MAX_TAGS = 10  # S3's limits on object tags
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256
_METADATA_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")  # an HTTP header token, lower case
_TAG_TEXT = re.compile(r"[\w\s.:/=+@-]*")  # what S3 allows in tag keys and values


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as every store keeps it: names in lower case (S3 lowers them), ASCII values."""
    result: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        lowered = name.lower()
        if not _METADATA_NAME.fullmatch(lowered):
            raise InvalidInputError(f"metadata name must be an HTTP token: {name!r}")
        if not all(" " <= char <= "~" for char in value):
            raise InvalidInputError(f"metadata value must be printable ASCII: {name}={value!r}")
        result[lowered] = value
    if sum(len(name) + len(value) for name, value in result.items()) > MAX_METADATA_BYTES:
        raise InvalidInputError(f"user metadata must be at most {MAX_METADATA_BYTES} bytes")
    return result


def validate_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Object tags within S3's limits (count, lengths, characters), so every store accepts the same."""
    if len(tags) > MAX_TAGS:
        raise InvalidInputError(f"an object has at most {MAX_TAGS} tags, got {len(tags)}")
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY_CHARS or len(value) > MAX_TAG_VALUE_CHARS:
            raise InvalidInputError(f"tag key or value too long (or key empty): {key!r}")
        if not (_TAG_TEXT.fullmatch(key) and _TAG_TEXT.fullmatch(value)):
            raise InvalidInputError(f"tag has a character S3 does not allow: {key}={value!r}")
    return dict(tags)
