"""`ObjectStore` on an S3 bucket (AWS or any S3-compatible endpoint), through boto3.

Uploads above one part use multipart upload with the HCA part-size rule (DESIGN §5), so the object's
ETag equals its computed `s3_etag`. Memory stays bounded whatever the size: a seekable stream is sent
part by part straight from the stream, any other stream is spooled one part at a time to a temporary
file. A stream of unknown size (not seekable, no `size=`) is cut into 64 MiB parts, which caps it at
10,000 x 64 MiB = 625 GiB; pass `size=` for anything larger.

Copies above one part are multipart copies with the same rule, so a copy keeps the `s3_etag` and any
size works (a single CopyObject stops at 5 GiB). Copies carry bytes, content type, metadata and tags.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TypeVar, cast
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from upload_common.checksums.part_size import MAX_PARTS, MIN_PART_SIZE, s3_part_size
from upload_common.errors import (
    InvalidInputError,
    InvalidNameError,
    ObjectNotFoundError,
    StorageError,
    UploadNotFoundError,
)
from upload_common.storage.base import ObjectInfo, ObjectStore, PartInfo
from upload_common.storage.keys import (
    MAX_KEY_BYTES,
    validate_key,
    validate_metadata,
    validate_part_number,
    validate_prefix,
    validate_tags,
)
from upload_common.storage.streams import PartWindow, ProviderStream, remaining_size

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, TagTypeDef

DEFAULT_CONTENT_TYPE = "application/octet-stream"
DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys a request
_SPOOL_IN_MEMORY = 8 * 1024 * 1024  # a spooled part stays in memory up to this, then goes to disk
_COPY_CHUNK = 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}
_BAD_PARTS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}  # CompleteMultipartUpload's refusals
T = TypeVar("T")


class S3ObjectStore(ObjectStore):
    """Objects in one bucket; `client` comes from `upload_common.boto_clients.client("s3", settings)`."""

    def __init__(self, bucket: str, client: S3Client) -> None:
        self._bucket = bucket
        self._s3 = client

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}"

    @property
    def bucket(self) -> str:
        """The bucket's name (the credential issuer scopes credentials to it)."""
        return self._bucket

    def object_url(self, key: str) -> str:
        return f"s3://{self._bucket}/{validate_key(key)}"

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        validate_key(key)
        attributes: dict[str, Any] = {
            "ContentType": content_type or DEFAULT_CONTENT_TYPE,
            "Metadata": validate_metadata(metadata),
        }
        measured = remaining_size(stream)
        if size is not None and measured is not None and measured != size:
            raise _short_stream(key, measured, size)
        size = size if size is not None else measured
        part_size = s3_part_size(size) if size is not None else MIN_PART_SIZE
        parts = _parts(key, stream, part_size, size)
        first = next(parts)
        try:
            second = next(parts, None)
        except BaseException:
            first.close()
            raise
        if second is None:  # one part: a plain PUT gives the plain MD5 ETag, as the rule says
            with first:
                length = _length(first)
                response = self._call(
                    key, lambda: self._s3.put_object(Bucket=self._bucket, Key=key, Body=first, **attributes)
                )
            return self._written(key, response["ETag"], length, attributes)
        upload_id = self._call(
            key,
            lambda: self._s3.create_multipart_upload(Bucket=self._bucket, Key=key, **attributes)["UploadId"],
        )
        try:
            done: list[CompletedPartTypeDef] = []
            length = 0
            for body in itertools.chain((first, second), parts):
                with body:
                    length += _length(body)
                    done.append(self._upload_part(key, upload_id, len(done) + 1, body))
            completed = self._call(
                key,
                lambda: self._s3.complete_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
                ),
            )
        except BaseException:
            self._abort(key, upload_id)
            raise
        return self._written(key, completed["ETag"], length, attributes)

    def open(self, key: str) -> BinaryIO:
        validate_key(key)
        response = self._call(key, lambda: self._s3.get_object(Bucket=self._bucket, Key=key))
        return io.BufferedReader(ProviderStream(response["Body"], key), buffer_size=_COPY_CHUNK)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        validate_key(key)
        if start < 0 or length < 0:
            raise InvalidInputError(f"a range needs start >= 0 and length >= 0, got {start}, {length}")
        if length == 0:
            self.head(key)  # still says when the key is missing
            return b""
        try:
            response = self._s3.get_object(
                Bucket=self._bucket, Key=key, Range=f"bytes={start}-{start + length - 1}"
            )
            body: bytes = response["Body"].read()
        except ClientError as exc:
            if _code(exc) == "InvalidRange":  # starts at or past the end: nothing there, as a file read
                self.head(key)
                return b""
            raise _translate(exc, key) from None
        except BotoCoreError as exc:
            raise _translate(exc, key) from None
        return body

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        response = self._call(key, lambda: self._s3.head_object(Bucket=self._bucket, Key=key))
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            etag=response["ETag"].strip('"'),
            last_modified=response["LastModified"],
            content_type=response.get("ContentType"),
            metadata=dict(response.get("Metadata", {})),
        )

    def list(self, prefix: str, *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if page_size < 1:
            raise InvalidInputError(f"page_size must be at least 1, got {page_size}")
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, PaginationConfig={"PageSize": min(page_size, 1000)}
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"],
                        size=item["Size"],
                        etag=item["ETag"].strip('"'),
                        last_modified=item["LastModified"],
                    )
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, prefix) from None

    def delete_many(self, keys: Iterable[str]) -> int:
        count = 0
        batch: list[str] = []
        for key in keys:
            try:
                batch.append(validate_key(key))
            except InvalidNameError:
                # Written straight to S3 under a name the service refuses (`area/folder/`): deleting
                # must still work, or such an object would outlive its area. One DeleteObject each,
                # as its key goes in the URL rather than in an XML body.
                self._delete_refused(key)
                count += 1
                continue
            if len(batch) == DELETE_BATCH:
                self._delete_batch(batch)
                count, batch = count + len(batch), []
        if batch:
            self._delete_batch(batch)
        return count + len(batch)

    def get_tags(self, key: str) -> dict[str, str]:
        validate_key(key)
        response = self._call(key, lambda: self._s3.get_object_tagging(Bucket=self._bucket, Key=key))
        return {tag["Key"]: tag["Value"] for tag in response["TagSet"]}

    def put_tags(self, key: str, tags: Mapping[str, str]) -> None:
        validate_key(key)
        tag_set: list[TagTypeDef] = [{"Key": k, "Value": v} for k, v in validate_tags(tags).items()]
        if not tag_set:  # the same as an empty TagSet, and some S3-compatible servers reject that one
            self._call(key, lambda: self._s3.delete_object_tagging(Bucket=self._bucket, Key=key))
            return
        self._call(
            key,
            lambda: self._s3.put_object_tagging(Bucket=self._bucket, Key=key, Tagging={"TagSet": tag_set}),
        )

    def copy(self, source_key: str, destination_key: str) -> ObjectInfo:
        validate_key(source_key)
        validate_key(destination_key)
        if source_key == destination_key:
            raise InvalidInputError(f"cannot copy {source_key!r} onto itself")
        source = self.head(source_key)
        part_size = s3_part_size(source.size)
        if source.size <= part_size:
            self._call(
                source_key,
                lambda: self._s3.copy_object(
                    Bucket=self._bucket,
                    Key=destination_key,
                    CopySource={"Bucket": self._bucket, "Key": source_key},
                    CopySourceIfMatch=f'"{source.etag}"',
                    MetadataDirective="COPY",
                    TaggingDirective="COPY",
                ),
            )
        else:
            self._multipart_copy(source, destination_key, part_size)
        return self.head(destination_key)

    # -- multipart uploads ---------------------------------------------------------------------------

    def create_multipart_upload(
        self, key: str, *, content_type: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> str:
        validate_key(key)
        attributes: dict[str, Any] = {
            "ContentType": content_type or DEFAULT_CONTENT_TYPE,
            "Metadata": validate_metadata(metadata),
        }
        return self._call(
            key,
            lambda: self._s3.create_multipart_upload(Bucket=self._bucket, Key=key, **attributes)["UploadId"],
        )

    def upload_part(self, key: str, upload_id: str, number: int, stream: BinaryIO, *, size: int) -> PartInfo:
        validate_key(key)
        validate_part_number(number)
        with contextlib.closing(
            _window(stream, stream.tell(), size) if _seekable(stream) else _next_part(stream, size)
        ) as body:
            if _length(body) != size:
                raise _short_stream(key, _length(body), size)
            done = self._upload_part(key, upload_id, number, body)
        return PartInfo(number=number, size=size, etag=done["ETag"].strip('"'))

    def list_parts(self, key: str, upload_id: str) -> Sequence[PartInfo]:
        validate_key(key)
        pages = self._s3.get_paginator("list_parts").paginate(
            Bucket=self._bucket, Key=key, UploadId=upload_id
        )
        try:
            return [
                PartInfo(number=part["PartNumber"], size=part["Size"], etag=part["ETag"].strip('"'))
                for page in pages
                for part in page.get("Parts", [])
            ]
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, key) from None

    def presign_upload_part(self, key: str, upload_id: str, number: int, *, expires_in: int) -> str | None:
        validate_key(key)
        validate_part_number(number)
        params = {"Bucket": self._bucket, "Key": key, "UploadId": upload_id, "PartNumber": number}
        url: str = self._call(
            key, lambda: self._s3.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in)
        )
        return url

    def complete_multipart_upload(self, key: str, upload_id: str, parts: Sequence[PartInfo]) -> ObjectInfo:
        validate_key(key)
        done: list[CompletedPartTypeDef] = [{"ETag": f'"{p.etag}"', "PartNumber": p.number} for p in parts]
        completed = self._call(
            key,
            lambda: self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
            ),
        )
        info = self.head(key)
        if info.etag == completed["ETag"].strip('"'):
            return info
        # Another write replaced it since: what this call wrote, as far as it is known.
        return ObjectInfo(
            key=key,
            size=sum(p.size for p in parts),
            etag=completed["ETag"].strip('"'),
            last_modified=datetime.now(UTC),
        )

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        validate_key(key)
        with contextlib.suppress(UploadNotFoundError):  # aborted (or completed) before: done
            self._call(
                key,
                lambda: self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id),
            )

    # -- helpers -------------------------------------------------------------------------------------

    def _written(self, key: str, etag: str, size: int, attributes: dict[str, Any]) -> ObjectInfo:
        """The info of the version this call wrote, even when another writer replaced it since."""
        info = self.head(key)
        if info.etag == etag.strip('"'):
            return info
        return ObjectInfo(
            key=key,
            size=size,
            etag=etag.strip('"'),
            last_modified=datetime.now(UTC),
            content_type=attributes["ContentType"],
            metadata=attributes["Metadata"],
        )

    def _upload_part(self, key: str, upload_id: str, number: int, body: IO[bytes]) -> CompletedPartTypeDef:
        response = self._call(
            key,
            lambda: self._s3.upload_part(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=_length(body),
            ),
        )
        return {"ETag": response["ETag"], "PartNumber": number}

    def _multipart_copy(self, source: ObjectInfo, destination_key: str, part_size: int) -> None:
        response = self._call(
            source.key, lambda: self._s3.get_object_tagging(Bucket=self._bucket, Key=source.key)
        )
        tagging = "&".join(
            f"{quote(t['Key'], safe='')}={quote(t['Value'], safe='')}" for t in response["TagSet"]
        )
        upload_id = self._call(
            destination_key,
            lambda: self._s3.create_multipart_upload(
                Bucket=self._bucket,
                Key=destination_key,
                ContentType=source.content_type or DEFAULT_CONTENT_TYPE,
                Metadata=dict(source.metadata),
                Tagging=tagging,
            )["UploadId"],
        )
        try:
            parts: list[CompletedPartTypeDef] = []
            for number, start in enumerate(range(0, source.size, part_size), start=1):
                end = min(start + part_size, source.size) - 1
                result = self._call(
                    source.key,
                    lambda number=number, start=start, end=end: self._s3.upload_part_copy(  # type: ignore[misc]
                        Bucket=self._bucket,
                        Key=destination_key,
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource={"Bucket": self._bucket, "Key": source.key},
                        CopySourceIfMatch=f'"{source.etag}"',
                        CopySourceRange=f"bytes={start}-{end}",
                    ),
                )
                parts.append({"ETag": result["CopyPartResult"]["ETag"], "PartNumber": number})
            self._call(
                destination_key,
                lambda: self._s3.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=destination_key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                ),
            )
        except BaseException:
            self._abort(destination_key, upload_id)
            raise

    def _delete_refused(self, key: str) -> None:
        try:
            encoded = key.encode("utf-8")
        except UnicodeEncodeError:
            return  # S3 cannot hold it: nothing to delete
        if key and len(encoded) <= MAX_KEY_BYTES:
            with contextlib.suppress(ObjectNotFoundError):  # missing is no error (S3 says 204; some say 404)
                self._call(key, lambda: self._s3.delete_object(Bucket=self._bucket, Key=key))

    def _delete_batch(self, keys: Sequence[str]) -> None:
        response = self._call(
            keys[0],
            lambda: self._s3.delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            ),
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise StorageError(
                f"{len(errors)} of {len(keys)} keys were not deleted, e.g. {first.get('Key')!r}: "
                f"{first.get('Code')} {first.get('Message')}"
            )

    def _abort(self, key: str, upload_id: str) -> None:
        # The original error matters more; a bucket lifecycle rule reaps what is left behind.
        with contextlib.suppress(BotoCoreError, ClientError):
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)

    def _call(self, key: str, operation: Callable[[], T]) -> T:
        """Run one S3 call; its provider errors leave as domain errors."""
        try:
            return operation()
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, key) from None


def _parts(key: str, stream: IO[bytes], part_size: int, size: int | None) -> Iterator[IO[bytes]]:
    """The stream cut into parts, one at a time (at least one, maybe empty); the caller closes each."""
    # Windows on a seekable stream read at absolute offsets: the stream's own position moves under them.
    base = stream.tell() if size is not None and _seekable(stream) else None
    sent = 0
    while True:
        length = part_size if size is None else min(part_size, size - sent)
        part = _next_part(stream, length) if base is None else _window(stream, base + sent, length)
        got = _length(part)
        if size is not None and got < length:
            part.close()
            raise _short_stream(key, sent + got, size)
        if got == 0 and sent > 0:
            part.close()
            return
        if sent // part_size >= MAX_PARTS:
            part.close()
            raise InvalidInputError(
                f"{key!r}: a stream of unknown size is limited to {MAX_PARTS} parts of {part_size} bytes; "
                "pass size= for larger objects"
            )
        sent += got
        yield part
        if size is not None and sent >= size:
            if not _seekable(stream) and stream.read(1):
                raise _short_stream(key, sent + 1, size)
            return
        if size is None and got < length:
            return


def _window(stream: IO[bytes], start: int, length: int) -> IO[bytes]:
    return cast("IO[bytes]", PartWindow(stream, start, length))  # it has every method botocore calls


def _next_part(stream: IO[bytes], length: int) -> IO[bytes]:
    """The next `length` bytes of a stream that cannot seek, spooled: in memory while small, else on disk."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 (the caller closes it)
    try:
        left = length
        while left > 0:
            chunk = stream.read(min(left, _COPY_CHUNK))
            if not chunk:
                break
            spool.write(chunk)
            left -= len(chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _length(body: IO[bytes]) -> int:
    position = body.tell()
    end = body.seek(0, io.SEEK_END)
    body.seek(position)
    return end - position


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def _short_stream(key: str, got: int, expected: int) -> InvalidInputError:
    return InvalidInputError(f"{key!r}: the stream had {got} bytes, {expected} were announced")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: BotoCoreError | ClientError, key: str) -> Exception:
    if isinstance(exc, ClientError) and _code(exc) == "NoSuchUpload":
        return UploadNotFoundError(f"no multipart upload of {key!r} with that id")
    if isinstance(exc, ClientError) and _code(exc) in _BAD_PARTS:
        return InvalidInputError(f"{key!r}: the parts cannot be assembled: {_code(exc)}")
    if isinstance(exc, ClientError) and _code(exc) in _MISSING:
        return ObjectNotFoundError(f"no object {key!r}")
    if isinstance(exc, ClientError) and _code(exc) == "PreconditionFailed":
        return StorageError(f"{key!r} changed while it was being copied")
    return StorageError(f"S3 failed on {key!r}: {exc}")
