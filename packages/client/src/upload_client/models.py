"""The API's response bodies as types (the schemas of packages/api's OpenAPI spec, upload-api.yml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NotRequired, TypedDict


class Version(TypedDict):
    upload_service_version: str


class Health(TypedDict):
    status: str
    database: NotRequired[str]
    storage: NotRequired[str]


class AreaUri(TypedDict):
    uri: str


class AreaDeletion(TypedDict):
    area_uuid: str
    status: str


class FileChecksums(TypedDict, total=False):
    s3_etag: str
    sha1: str
    sha256: str
    crc32c: str


class FileInfo(TypedDict):
    name: str
    content_type: NotRequired[str | None]
    size: int
    last_modified: NotRequired[str | None]
    upload_area_id: str
    url: str
    checksums: FileChecksums | None
    state: NotRequired[str]  # UPLOADED, CHECKSUMMING, CHECKSUMMED, CORRUPT, REJECTED (newer APIs)


class FileList(TypedDict):
    files: list[FileInfo]
    next_cursor: str | None


class ChecksumInfo(TypedDict):
    checksum_status: str
    checksums: FileChecksums | None


class ValidationId(TypedDict):
    validation_id: str


class ValidationInfo(TypedDict):
    validation_status: str
    validation_results: str
    validation_id: NotRequired[str | None]
    exit_code: NotRequired[int | None]
    image_digest: NotRequired[str | None]


class SessionPart(TypedDict):
    number: int  # 1-based
    size: int
    etag: str  # the part's MD5 hex, without quotes


class UploadSession(TypedDict):
    """An upload session (`/v2/areas/{uuid}/uploads`): S3 multipart semantics through the API."""

    id: str
    area_uuid: str
    name: str
    size: int
    content_type: str | None
    sha256: str | None
    crc32c: str | None
    part_size: int
    part_count: int
    status: str  # OPEN, COMPLETED, ABORTED, EXPIRED
    created_at: str
    expires_at: str
    parts: list[SessionPart]  # the parts the store has received
    file: NotRequired[FileInfo]  # once COMPLETED


class UploadSessionList(TypedDict):
    uploads: list[UploadSession]


class PartTarget(TypedDict):
    """Where to send one part: exactly these headers, and no API key or link (the URL is its authority)."""

    number: int
    url: str
    method: str
    headers: dict[str, str]
    expires_at: str


class SubmitterLink(TypedDict):
    url: str  # <public url>/v2/areas/<uuid>/page#link=<token>
    token: str
    expires_at: str


# Counts by state: TOTAL_NUM_FILES, CHECKSUMMED, CHECKSUMMING, CHECKSUMMING_UNSCHEDULED (+ any other
# state the service reports) for checksums; by validation status for validations.
AreaChecksumCounts = dict[str, int]
AreaValidationCounts = dict[str, int]


@dataclass(frozen=True)
class Credentials:
    """Short-lived credentials that can only put objects into one area (the secret parts not in repr)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: str  # ISO 8601 date-time, as the API sends it
