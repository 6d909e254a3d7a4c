"""The checksum queue's messages: S3 event notifications and the API's "file uploaded" message.

An S3 event names keys form-encoded (spaces as `+`); each key is decoded exactly once here. Events
other than ObjectCreated (and S3's `s3:TestEvent`) are ignored.

Each record of an S3 event stands on its own: a record that can never be processed (no key, a key
outside any upload area) is returned as an `UnreadableRecord` instead of failing its whole message,
and an object stored under a name the service refuses (`area/folder/`, `area/a//b`) is an
`ObjectEvent` whose `refused` says why, so that it is recorded rather than dropped. Only a body that
is no message at all raises `InvalidInputError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from upload_common import messages
from upload_common.area_ids import check_area_id
from upload_common.domain.seals import is_service_name
from upload_common.errors import InvalidInputError
from upload_common.storage.base import store_order
from upload_common.storage.keys import validate_key

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
    store_order: str | None = None  # S3's sequencer for the key, comparable (`store_order()`)
    refused: str | None = None  # why the service refuses the name, if it does
    event_time: datetime | None = None  # when the store wrote the object (S3's eventTime)


@dataclass(frozen=True)
class UnreadableRecord:
    """A record of an S3 event that can never be processed; the other records of its message can."""

    reason: str


def parse_events(body: str) -> list[ObjectEvent | UnreadableRecord]:
    """Every object-created record of one queue message; `InvalidInputError` if the body is no message."""
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


def _from_record(record: Any) -> ObjectEvent | UnreadableRecord | None:
    if not isinstance(record, dict) or record.get("eventName") not in CREATED_EVENTS:
        return None
    try:
        obj = record["s3"]["object"]
        key = unquote_plus(str(obj["key"]))
        size = int(obj["size"]) if obj.get("size") is not None else None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return UnreadableRecord(f"S3 event record without a usable s3.object (key, size): {exc!r}")
    area, inside, name = key.partition("/")
    try:
        check_area_id(area)
    except InvalidInputError:
        inside = ""
    if not inside:
        return UnreadableRecord(f"{key!r} is not inside an upload area")
    if is_service_name(name):
        return None  # the service's own object (a sealed area's inventory), never a file
    etag = obj.get("eTag") or obj.get("etag")
    return ObjectEvent(
        area,
        name,
        str(etag).strip('"') if etag else None,
        size,
        _sequencer(obj.get("sequencer")),
        _refusal(key),
        _event_time(record.get("eventTime")),
    )


def _refusal(key: str) -> str | None:
    try:
        validate_key(key)
    except InvalidInputError as exc:
        return str(exc)
    return None


def _sequencer(value: Any) -> str | None:
    # A sequencer we cannot read only loses the ordering help; the HEAD still decides.
    try:
        return store_order(value) if isinstance(value, str) and value else None
    except InvalidInputError:
        return None


def _event_time(value: Any) -> datetime | None:
    # A time we cannot read only loses the lock check's precision; the HEAD's Last-Modified stands in.
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError("the event names no file")
    return value
