"""Parsing the checksum queue's messages: S3 event notifications and the API's file_uploaded message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from upload_checksum.events import ObjectEvent, UnreadableRecord, parse_events
from upload_common import messages
from upload_common.errors import InvalidInputError

AREA = "0b2b4f0e-3c1a-4f5e-9a57-1a2b3c4d5e6f"


def s3_event(*records: tuple[str, str]) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventName": name,
                    "s3": {"object": {"key": key, "size": 7, "eTag": "0123456789abcdef0123456789abcdef"}},
                }
                for name, key in records
            ]
        }
    )


@pytest.mark.parametrize("name", ["Put", "Post", "Copy", "CompleteMultipartUpload"])
def test_every_object_created_event_is_read(name: str) -> None:
    [event] = parse_events(s3_event((f"ObjectCreated:{name}", f"{AREA}/r1.fastq.gz")))
    assert event == ObjectEvent(AREA, "r1.fastq.gz", "0123456789abcdef0123456789abcdef", 7)


def test_keys_are_decoded_exactly_once() -> None:
    # S3 form-encodes keys in events: '+' is a space, '%2B' a plus, '%252F' a literal '%2F'.
    [event] = parse_events(s3_event(("ObjectCreated:Put", f"{AREA}/dir/a+b%2Bc%252F%C3%BC.txt")))
    assert isinstance(event, ObjectEvent)
    assert event.name == "dir/a b+c%2Fü.txt"


def test_other_events_and_the_test_event_are_ignored() -> None:
    assert parse_events(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []
    assert parse_events(s3_event(("ObjectRemoved:Delete", f"{AREA}/x"))) == []


def test_several_records_in_one_message() -> None:
    body = s3_event(
        ("ObjectCreated:Put", f"{AREA}/a"),
        ("ObjectRemoved:Delete", f"{AREA}/b"),
        ("ObjectCreated:Copy", f"{AREA}/c"),
    )
    assert [event.name for event in parse_events(body) if isinstance(event, ObjectEvent)] == ["a", "c"]


def test_the_api_message() -> None:
    assert parse_events(messages.file_uploaded(AREA, "dir/x y")) == [ObjectEvent(AREA, "dir/x y")]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"something": "else"}),
        json.dumps({"type": "file_uploaded", "area_uuid": "bad", "name": "x"}),
        json.dumps({"type": "file_uploaded", "area_uuid": AREA, "name": ""}),
    ],
)
def test_malformed_messages_are_refused(body: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_events(body)


def test_each_record_stands_on_its_own() -> None:
    body = json.dumps(
        {
            "Records": [
                {"eventName": "ObjectCreated:Put", "s3": {}},
                json.loads(s3_event(("ObjectCreated:Put", "not-an-area/x")))["Records"][0],
                json.loads(s3_event(("ObjectCreated:Put", AREA)))["Records"][0],
                json.loads(s3_event(("ObjectCreated:Put", f"{AREA}/good.txt")))["Records"][0],
                {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": f"{AREA}/x", "size": "seven"}}},
            ]
        }
    )
    events = parse_events(body)
    assert [type(event) for event in events] == [
        UnreadableRecord,
        UnreadableRecord,
        UnreadableRecord,
        ObjectEvent,
        UnreadableRecord,
    ]
    assert events[3] == ObjectEvent(AREA, "good.txt", "0123456789abcdef0123456789abcdef", 7)


@pytest.mark.parametrize(
    ("key", "name"),
    [
        (f"{AREA}/", ""),
        (f"{AREA}/folder/", "folder/"),
        (f"{AREA}/a//b", "a//b"),
        (f"{AREA}/a/../b", "a/../b"),
    ],
)
def test_refused_names_are_events_that_say_why(key: str, name: str) -> None:
    [event] = parse_events(s3_event(("ObjectCreated:Put", key)))
    assert isinstance(event, ObjectEvent)
    assert (event.area_uuid, event.name, event.etag, event.size) == (
        AREA,
        name,
        "0123456789abcdef0123456789abcdef",
        7,
    )
    assert event.refused is not None
    assert "segments" in event.refused


def test_sequencers_compare_after_left_padding() -> None:
    def order(sequencer: object) -> str | None:
        record = {
            "eventName": "ObjectCreated:Put",
            "s3": {"object": {"key": f"{AREA}/x", "sequencer": sequencer}},
        }
        [event] = parse_events(json.dumps({"Records": [record]}))
        assert isinstance(event, ObjectEvent)
        return event.store_order

    earlier, later = order("5F"), order("0055b1a0c3")  # lexicographically "5F" > "0055…"
    assert earlier is not None
    assert later is not None
    assert earlier < later
    assert order("5f") == earlier  # case does not matter
    assert order("not hex") is None  # unreadable: only the ordering help is lost
    assert order(17) is None


def test_the_event_time_says_when_the_store_wrote_the_object() -> None:
    def written(event_time: object) -> datetime | None:
        record = {
            "eventName": "ObjectCreated:Put",
            "eventTime": event_time,
            "s3": {"object": {"key": f"{AREA}/x", "size": 1}},
        }
        [event] = parse_events(json.dumps({"Records": [record]}))
        assert isinstance(event, ObjectEvent)
        return event.event_time

    assert written("2026-03-01T12:00:00.123Z") == datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    # Unreadable or without a zone: unknown (the HEAD's Last-Modified stands in), never a failure.
    assert written("yesterday") is None
    assert written("2026-03-01T12:00:00") is None
    assert written(None) is None
