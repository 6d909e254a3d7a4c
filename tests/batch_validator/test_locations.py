"""Parsing the URLs the scheduler passes: names decoded exactly once, one area, nothing outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from upload_batch_validator.locations import area_from_callback_url, parse_location, parse_locations
from upload_common.errors import InvalidInputError

AREA = "0b2b4f0e-3c1a-4f5e-9a57-1a2b3c4d5e6f"
OTHER = "11111111-2222-3333-4444-555555555555"


def test_s3_names_are_decoded_exactly_once() -> None:
    location = parse_location(f"s3://bucket/{AREA}/dir/a%20b%2525%C3%A9.fastq.gz")
    assert (location.scheme, location.bucket, location.area) == ("s3", "bucket", AREA)
    assert location.name == "dir/a b%25é.fastq.gz"
    assert location.key == f"{AREA}/dir/a b%25é.fastq.gz"


@pytest.mark.parametrize(
    "area", ["deadbeef-dead-dead-dead-171354000000", "abcdefgh-ijkl-mnop-qrst-uvwxyz012345"]
)
def test_seed_style_area_ids_are_areas_as_the_api_accepts_them(area: str) -> None:
    # The API accepts these (the seed's pattern, `upload_common.area_ids`); the harness must too.
    location = parse_location(f"s3://bucket/{area}/dir/R1.fastq")
    assert (location.area, location.name, location.key) == (area, "dir/R1.fastq", f"{area}/dir/R1.fastq")
    assert parse_location(f"file:///srv/store/{area}/R1.fastq").area == area
    assert area_from_callback_url(f"http://127.0.0.1:8080/v1/area/{area}/update_validation/v-1") == area


def test_file_urls_split_at_the_area_the_callback_names() -> None:
    url = f"file:///srv/{OTHER}/store/{AREA}/x/{OTHER}.txt"
    assert parse_location(url, area_hint=AREA).name == f"x/{OTHER}.txt"
    assert parse_location(url, area_hint=AREA).path == Path(f"/srv/{OTHER}/store/{AREA}/x/{OTHER}.txt")
    assert parse_location(url).area == OTHER  # without a hint: the first uuid-shaped directory


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"s3://bucket/{AREA}/a/../../b", "must not have empty, '.' or '..' segments"),
        (f"s3://bucket/{AREA}/", f"'s3://bucket/{AREA}/' is not s3://<bucket>/<area uuid>/<name>"),
        ("s3://bucket/not-a-uuid/a.txt", "is not s3://<bucket>/<area uuid>/<name>"),
        ("s3://bucket/abcdefgh-ijkl-mnop-qrst-uvwxyz01234_/a.txt", "is not s3://<bucket>/<area uuid>/<name>"),
        (f"s3://bucket/{AREA}/a?b", "a '?' or '#' in a name must be percent-encoded"),
        (f"file://host/{AREA}/a", "a file URL names a local path"),
        ("file:///no/area/here.txt", "is not file:///<store root>/<area uuid>/<name>"),
        (f"s3://bucket/{AREA}/%FF", "the percent-encoded name is not UTF-8"),
        (f"http://x/{AREA}/a", "only s3:// and file:// URLs can be validated"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, problem: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_location(url)
    assert problem in str(raised.value)


def test_files_of_two_areas_are_refused_and_order_is_kept() -> None:
    urls = [f"s3://b/{AREA}/z", f"s3://b/{AREA}/a"]
    assert [location.name for location in parse_locations(urls)] == ["z", "a"]
    with pytest.raises(InvalidInputError, match="more than one upload area"):
        parse_locations([f"s3://b/{AREA}/a", f"s3://b/{OTHER}/a"])


def test_the_area_of_a_callback_url() -> None:
    assert area_from_callback_url(f"http://127.0.0.1:8080/v1/area/{AREA}/update_validation/v-1") == AREA
    assert area_from_callback_url("http://127.0.0.1:8080/elsewhere") is None
    assert area_from_callback_url(None) is None
