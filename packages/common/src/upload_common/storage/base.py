"""The `ObjectStore` interface: what every object store offers, whatever holds the bytes."""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from upload_common.errors import InvalidInputError

STORE_ORDER_WIDTH = 64  # hex digits; wide enough for any S3 sequencer, and `file.store_order`'s width
_HEX = re.compile(r"[0-9A-Fa-f]+")


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD of one object tells."""

    key: str
    size: int
    etag: str  # without the quotes S3 puts around it
    last_modified: datetime  # timezone-aware UTC
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)  # user metadata (x-amz-meta-*)
    # Where this version falls among the versions written under its key (`store_order()`), when the
    # store says: the local store does; an S3 HEAD does not (S3 tells it only in the event's sequencer).
    store_order: str | None = None


@dataclass(frozen=True)
class PartInfo:
    """One part of a multipart upload, as the store holds it."""

    number: int  # 1-based
    size: int
    etag: str  # the MD5 hex of the part's bytes, without quotes


def store_order(hex_digits: str) -> str:
    """The comparable form of a store's version order (an S3 event `sequencer`, a local counter in hex):
    upper case, left-padded with zeros to one width, so that string order is the store's order.

    S3 documents sequencers of one key as comparable once the shorter is left-padded with zeros.
    """
    if not _HEX.fullmatch(hex_digits) or len(hex_digits.lstrip("0")) > STORE_ORDER_WIDTH:
        raise InvalidInputError(f"not a store order (at most {STORE_ORDER_WIDTH} hex digits): {hex_digits!r}")
    return hex_digits.upper().lstrip("0").rjust(STORE_ORDER_WIDTH, "0")


class ObjectStore(abc.ABC):
    """Keys are `<area uuid>/<name>`; names may contain `/`, spaces and any Unicode.

    Implementations raise only domain errors (`upload_common.errors`): `ObjectNotFoundError` for a
    missing key, `InvalidNameError` for a key the store refuses (except in `delete_many`),
    `StorageError` for anything else.
    """

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """Where the store lives: `s3://<bucket>` or `file:///<root>`."""

    @abc.abstractmethod
    def object_url(self, key: str) -> str:
        """The URL of one key (`s3://bucket/key`, `file:///root/key`), as reported to clients."""

    @abc.abstractmethod
    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store the stream's bytes under `key` (any size; memory stays bounded) and return its info."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """The object's bytes as a readable stream; the caller closes it."""

    @abc.abstractmethod
    def get_range(self, key: str, start: int, length: int) -> bytes:
        """`length` bytes from offset `start` (fewer only at the end of the object)."""

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Size, ETag, content type, user metadata and last-modified time of one object."""

    @abc.abstractmethod
    def list(self, prefix: str, *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, in key order, fetched page by page."""

    @abc.abstractmethod
    def delete_many(self, keys: Iterable[str]) -> int:
        """Delete the keys (missing ones are not an error); return how many were asked for.

        Unlike every other method, this one takes keys the store would refuse to write: an object
        written straight to S3 under such a key (`area/folder/`) must still go with its area. A key
        the store cannot hold is simply not there.
        """

    @abc.abstractmethod
    def get_tags(self, key: str) -> dict[str, str]:
        """The object's tags."""

    @abc.abstractmethod
    def put_tags(self, key: str, tags: Mapping[str, str]) -> None:
        """Replace the object's whole tag set in one call."""

    @abc.abstractmethod
    def copy(self, source_key: str, destination_key: str) -> ObjectInfo:
        """Server-side copy of one object (bytes, content type and metadata)."""

    # -- multipart uploads (resumable upload sessions) ------------------------------------------------
    # S3's semantics: parts numbered from 1, each replaced by sending it again, assembled in order on
    # completion into one object (with the content type and metadata given at creation); nothing is
    # an object until then. A missing upload id raises `UploadNotFoundError`.

    @abc.abstractmethod
    def create_multipart_upload(
        self, key: str, *, content_type: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Start a multipart upload of `key`; return its upload id."""

    @abc.abstractmethod
    def upload_part(self, key: str, upload_id: str, number: int, stream: BinaryIO, *, size: int) -> PartInfo:
        """Store exactly `size` bytes of the stream as part `number` (replacing an earlier one)."""

    @abc.abstractmethod
    def list_parts(self, key: str, upload_id: str) -> Sequence[PartInfo]:
        """The parts received so far, in part-number order."""

    @abc.abstractmethod
    def presign_upload_part(self, key: str, upload_id: str, number: int, *, expires_in: int) -> str | None:
        """A URL that takes part `number` by PUT for `expires_in` seconds with no other authority, or
        None when the store has no such URLs (the caller then offers a route of its own)."""

    @abc.abstractmethod
    def complete_multipart_upload(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> ObjectInfo:
        """Assemble the parts (all of them, in order; their ETags must match) into the object."""

    @abc.abstractmethod
    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; an unknown (or finished) upload is no error."""
