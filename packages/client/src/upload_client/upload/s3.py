"""AWS mode: straight to S3 with the area's credentials (POST /v1/area/{uuid}/credentials).

- The credentials are refreshed before they expire (botocore's `RefreshableCredentials`, fed by the
  credentials route), so an upload may outlast any one set of them.
- Multipart with the service's part size, so that S3's ETag equals the service's `s3_etag`; a file of
  one part at most is one PutObject. `sha256` and `crc32c` are declared as user metadata, which the
  service compares with what it computes.
- Resume: this client records each multipart upload it starts, with what it declared (`ResumeRecords`,
  under `$XDG_STATE_HOME/dcp-upload`): S3 never tells the metadata an upload was started with. The
  recorded upload is resumed (ListParts on its id) only when the record declares this file's size and
  checksums; otherwise it is aborted (the file changed). An upload S3 no longer has (NoSuchUpload:
  completed, aborted, or ended by the bucket's lifecycle rule) is started again. Uploads are never
  listed (ListMultipartUploads): on AWS that cannot be limited to one area, so the submitter's
  credentials do not allow it; an upload of the key that this client has no record of is left to the
  bucket's lifecycle rule. Of a resumed upload, ListParts' parts whose ETag is the local part's MD5 are
  kept; any other is a corrupted part and is sent again.

botocore's errors stop here: they become `UploadError`s naming the file.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from upload_client.client import Client
from upload_client.upload.files import LocalFile, PartReader, UploadError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

# Refresh when less than this is left (botocore's defaults, 15 and 10 minutes, would refresh the
# service's default 15-minute credentials on every request).
ADVISORY_REFRESH_SECONDS = 120
MANDATORY_REFRESH_SECONDS = 60


class AreaCredentialProvider(CredentialProvider):
    """botocore credentials from the API's credentials route, asked again before they expire."""

    METHOD = "dcp-upload-area"
    CANONICAL_NAME = "dcp-upload-area"

    def __init__(self, api: Client, area: str, *, clock: Callable[[], datetime] | None = None) -> None:
        self._api = api
        self._area = area
        self._clock = clock or (lambda: datetime.now(UTC))  # injectable: tests need not wait an hour

    def fetch(self) -> dict[str, str]:
        credentials = self._api.credentials(self._area)
        return {
            "access_key": credentials.access_key_id,
            "secret_key": credentials.secret_access_key,
            "token": credentials.session_token,
            "expiry_time": credentials.expiration,
        }

    def load(self) -> RefreshableCredentials:
        first = self.fetch()
        return RefreshableCredentials(
            first["access_key"],
            first["secret_key"],
            first["token"],
            datetime.fromisoformat(first["expiry_time"].replace("Z", "+00:00")),
            self.fetch,
            self.METHOD,
            time_fetcher=self._clock,
            advisory_timeout=ADVISORY_REFRESH_SECONDS,
            mandatory_timeout=MANDATORY_REFRESH_SECONDS,
        )


def area_s3_client(api: Client, area: str, *, parallel: int) -> S3Client:
    """An S3 client that signs with the area's credentials only (never the environment's or a profile's).

    The endpoint is AWS's, or botocore's own `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` when set."""
    session = botocore.session.Session()
    session.register_component("credential_provider", CredentialResolver([AreaCredentialProvider(api, area)]))
    config = Config(
        max_pool_connections=parallel + 2,
        retries={"mode": "standard", "max_attempts": 5},
        # Integrity is the part's Content-MD5 (from the first pass), not another checksum of the body.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    client = boto3.Session(botocore_session=session).client("s3", config=config)
    # The bar counts bytes as they are sent, not while botocore reads the body to sign it.
    client.meta.events.register_first("request-created.s3", _not_transferring)
    client.meta.events.register_last("request-created.s3", _transferring)
    return client


def _not_transferring(request: Any, **_: Any) -> None:
    if hasattr(request.body, "signal_not_transferring"):
        request.body.signal_not_transferring()


def _transferring(request: Any, **_: Any) -> None:
    if hasattr(request.body, "signal_transferring"):
        request.body.signal_transferring()


class ResumeRecords:
    """The multipart uploads this client started and what they declared (a JSON file; no secrets)."""

    def __init__(self, directory: Path | None = None) -> None:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        self.path = (directory or Path(base) / "dcp-upload") / "multipart-uploads.json"

    def get(self, bucket: str, key: str) -> dict[str, Any] | None:
        record: dict[str, Any] | None = self._read().get(f"{bucket}/{key}")
        return record

    def put(self, bucket: str, key: str, record: dict[str, Any]) -> None:
        records = self._read()
        records[f"{bucket}/{key}"] = record
        self._write(records)

    def remove(self, bucket: str, key: str) -> None:
        records = self._read()
        if records.pop(f"{bucket}/{key}", None) is not None:
            self._write(records)

    def _read(self) -> dict[str, Any]:
        try:
            records: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return records

    def _write(self, records: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(records, indent=1))
        partial.replace(self.path)  # atomic: an interrupted write never leaves half a file


class S3Destination:
    """Files of one area, put straight into its bucket."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        area: str,
        records: ResumeRecords,
        *,
        uploaded: Callable[[str], None] | None = None,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.area = area
        self.records = records
        self.uploaded = uploaded  # called with each file's name once it is stored

    def begin(self, file: LocalFile) -> S3FileUpload:
        return S3FileUpload(self, file)

    def close(self) -> None:
        self.s3.close()  # its connection pool


class S3FileUpload:
    """One file: a PutObject, or a multipart upload (new or resumed)."""

    def __init__(self, destination: S3Destination, file: LocalFile) -> None:
        self.d = destination
        self.file = file
        self.key = f"{destination.area}/{file.name}"
        self.notes: list[str] = []
        self.part_count = max(1, file.part_count)  # an empty file is one (empty) PutObject
        self.upload_id: str | None = None
        self.metadata = {"sha256": file.checksums.sha256, "crc32c": file.checksums.crc32c}

    def prepare(self) -> list[int]:
        with _s3_errors(self.file):
            present = self._resume()
            if self.file.part_count <= 1:
                return [1]
            if self.upload_id is None:
                started = self.d.s3.create_multipart_upload(
                    Bucket=self.d.bucket,
                    Key=self.key,
                    Metadata=self.metadata,
                    ContentType=self.file.content_type,
                )
                self.upload_id = started["UploadId"]
                self.d.records.put(self.d.bucket, self.key, {"upload_id": self.upload_id, **self._declared()})
        return [n for n in range(1, self.file.part_count + 1) if n not in present]

    def part_length(self, number: int) -> int:
        return self.file.part_range(number)[1]

    def send(self, number: int, on_read: Callable[[int], None]) -> None:
        offset, length = self.file.part_range(number)
        md5 = self.file.part_md5s[number - 1] if self.file.part_md5s else _EMPTY_MD5
        content_md5 = base64.b64encode(bytes.fromhex(md5)).decode()
        with _s3_errors(self.file), PartReader(self.file.path, offset, length, on_read) as body:
            if self.upload_id is None:
                answer: Any = self.d.s3.put_object(
                    Bucket=self.d.bucket,
                    Key=self.key,
                    Body=cast(IO[bytes], body),  # a file object: read, seek, tell
                    ContentMD5=content_md5,
                    ContentLength=length,
                    Metadata=self.metadata,
                    ContentType=self.file.content_type,
                )
            else:
                answer = self.d.s3.upload_part(
                    Bucket=self.d.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    PartNumber=number,
                    Body=cast(IO[bytes], body),  # a file object: read, seek, tell
                    ContentMD5=content_md5,
                    ContentLength=length,
                )
        if answer["ETag"].strip('"') != md5:
            raise UploadError(f"part {number} arrived with another MD5 than it had when first read")

    def finish(self) -> bool | None:
        if self.upload_id is not None:
            parts: list[CompletedPartTypeDef] = [
                {"PartNumber": n, "ETag": f'"{md5}"'} for n, md5 in enumerate(self.file.part_md5s, start=1)
            ]
            with _s3_errors(self.file):
                answer = self.d.s3.complete_multipart_upload(
                    Bucket=self.d.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    MultipartUpload={"Parts": parts},
                )
            self.d.records.remove(self.d.bucket, self.key)
            if answer["ETag"].strip('"') != self.file.checksums.s3_etag:
                raise UploadError(
                    f"S3's ETag {answer['ETag']} is not the file's {self.file.checksums.s3_etag}"
                )
        if self.d.uploaded is not None:
            self.d.uploaded(self.file.name)
        return None  # the service checksums it from the store, asynchronously

    def _declared(self) -> dict[str, Any]:
        return {**self.metadata, "size": self.file.size, "part_size": self.file.part_size}

    def _resume(self) -> set[int]:
        """Take up the upload recorded for this key when it declared this file (abort it when not);
        the parts it already holds that are good."""
        record = self.d.records.get(self.d.bucket, self.key)
        upload_id = record.get("upload_id") if record is not None else None
        if not isinstance(upload_id, str):
            return set()
        if self.file.part_count <= 1 or record != {"upload_id": upload_id, **self._declared()}:
            self._forget(upload_id, abort=True)
            return set()
        try:
            parts = list(self._parts(upload_id))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise
            self._forget(upload_id, abort=False)
            return set()
        self.upload_id = upload_id
        present = set()
        for part in parts:
            number = part["PartNumber"]
            good = 1 <= number <= self.file.part_count and (
                part["ETag"].strip('"') == self.file.part_md5s[number - 1]
                and part["Size"] == self.part_length(number)
            )
            if good:
                present.add(number)
            else:
                self.notes.append(f"corrupted part {number} (its MD5 is not the file's): sending it again")
        self.notes.append(f"resuming: {len(present)} of {self.file.part_count} parts already there")
        return present

    def _forget(self, upload_id: str, *, abort: bool) -> None:
        """Drop the recorded upload: aborted when the file changed since, or already gone from S3."""
        gone = not abort
        if abort:
            try:
                self.d.s3.abort_multipart_upload(Bucket=self.d.bucket, Key=self.key, UploadId=upload_id)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise
                gone = True
        self.d.records.remove(self.d.bucket, self.key)
        if gone:
            self.notes.append("the earlier upload is gone (completed, aborted or expired); starting again")
        else:
            self.notes.append("aborted an earlier upload (the file changed since); starting again")

    def _parts(self, upload_id: str) -> Iterator[Any]:
        pages = self.d.s3.get_paginator("list_parts").paginate(
            Bucket=self.d.bucket, Key=self.key, UploadId=upload_id
        )
        for page in pages:
            yield from page.get("Parts", [])


_EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # MD5 of nothing: the empty file's single PutObject


@contextmanager
def _s3_errors(file: LocalFile) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "BadDigest":
            raise UploadError("the file changed while it was sent (a part's MD5 differs)") from None
        raise UploadError(f"S3 refused: {code or error}") from None
    except BotoCoreError as error:
        raise UploadError(f"S3: {error}") from None
