"""The checksum queue's messages: S3 event notifications and the API's "file uploaded" message.

An S3 event names keys form-encoded (spaces as `+`); each key is decoded exactly once here. Events
other than ObjectCreated (and S3's `s3:TestEvent`) are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from upload_common import messages
from upload_common.area_ids import check_area_id
from upload_common.errors import InvalidInputError

CREATED_EVENTS = (
    "ObjectCreated:Put",
    "ObjectCreated:Post",
    "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
)


@dataclass(frozen=True)
class ObjectEvent:
    """'This version of this object was written.' `etag` is None when the sender did not know it."""

    area_uuid: str
    name: str
    etag: str | None = None
    size: int | None = None


def parse_events(body: str) -> list[ObjectEvent]:
    """Every object-created event in one queue message; `InvalidInputError` if it is malformed."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"message is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError("message is not a JSON object")
    if data.get("type") == messages.FILE_UPLOADED:
        return [ObjectEvent(check_area_id(str(data.get("area_uuid"))), _name(data.get("name")))]
    if data.get("Event") == "s3:TestEvent":
        return []
    records = data.get("Records")
    if not isinstance(records, list):
        raise InvalidInputError(f"neither an S3 event nor a file_uploaded message: {body[:200]!r}")
    return [event for record in records if (event := _from_record(record)) is not None]


def split_key(key: str) -> tuple[str, str]:
    """(area uuid, name) of an object key `<area>/<name>`."""
    area, _, name = key.partition("/")
    return check_area_id(area), _name(name)


def _from_record(record: Any) -> ObjectEvent | None:
    if not isinstance(record, dict) or record.get("eventName") not in CREATED_EVENTS:
        return None
    try:
        obj = record["s3"]["object"]
        key = unquote_plus(str(obj["key"]))
    except (KeyError, TypeError):
        raise InvalidInputError("S3 event record without s3.object.key") from None
    area, name = split_key(key)
    etag = obj.get("eTag") or obj.get("etag")
    size = obj.get("size")
    return ObjectEvent(
        area, name, str(etag).strip('"') if etag else None, int(size) if size is not None else None
    )


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError("the event names no file")
    return value
