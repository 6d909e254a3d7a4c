"""The rules of upload sessions (`upload_common.domain.upload_sessions`), on PostgreSQL and SQLite where
they touch rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from support.factories import make_area, make_upload_session
from upload_common.checksums.part_size import MAX_PARTS, MIB, s3_part_size
from upload_common.domain import upload_sessions as rules
from upload_common.errors import InvalidInputError, SignatureRefusedError, UploadNotFoundError
from upload_common.statuses import UploadSessionStatus
from upload_common.storage import PartInfo

GIB = 1024 * MIB


@pytest.mark.parametrize(
    ("size", "configured", "expected"),
    [
        (0, None, 64 * MIB),
        (10 * GIB, None, 64 * MIB),
        (10 * GIB, 5 * MIB, 5 * MIB),  # smaller parts when asked
        (10 * GIB, 128 * MIB, 64 * MIB),  # never larger than the rule
        (100 * GIB, 5 * MIB, -(-100 * GIB // MAX_PARTS)),  # but as large as 10,000 parts need
        (700 * GIB, None, s3_part_size(700 * GIB)),
    ],
)
def test_part_size_follows_the_etag_rule_unless_smaller_parts_are_asked_for(
    size: int, configured: int | None, expected: int
) -> None:
    part_size = rules.session_part_size(size, configured)
    assert part_size == expected
    assert rules.part_count(size, part_size) <= MAX_PARTS


def test_part_sizes_count_and_what_keeps_a_session_from_completing(db_session: Session) -> None:
    upload = make_upload_session(db_session, size=12, part_size=5)
    assert rules.part_count(12, 5) == 3
    assert [rules.expected_part_size(upload, n) for n in (1, 2, 3)] == [5, 5, 2]
    assert rules.part_count(0, 5) == 1  # an empty file is one empty part
    with pytest.raises(InvalidInputError):
        rules.check_part_number(upload, 4)
    with pytest.raises(InvalidInputError, match="must have 2 bytes"):
        rules.check_part_size(upload, 3, 5)
    parts = [PartInfo(1, 5, "a" * 32), PartInfo(3, 3, "b" * 32), PartInfo(4, 1, "c" * 32)]
    assert rules.part_problems(upload, parts) == [
        "part 2 is missing",
        "part 3 has 3 bytes, not 2",
        "part 4 is beyond the last part",
    ]
    assert rules.part_problems(upload, [PartInfo(1, 5, "a"), PartInfo(2, 5, "b"), PartInfo(3, 2, "c")]) == []


def test_the_same_declaration_finds_the_open_unexpired_session(db_session: Session) -> None:
    area = make_area(db_session)
    declared = rules.declared("a.txt", 10, content_type=None, sha256="AB" * 32, crc32c=None)
    assert declared.sha256 == "ab" * 32  # normalised
    upload = rules.new_session(db_session, area, declared, part_size=5, store_upload_id="u", ttl_seconds=60)
    assert rules.find_same_session(db_session, area, declared) is upload
    other_checksum = rules.declared("a.txt", 10, content_type=None, sha256="cd" * 32, crc32c=None)
    assert rules.find_same_session(db_session, area, other_checksum) is None
    assert rules.find_session(db_session, area, str(upload.id)) is upload
    with pytest.raises(UploadNotFoundError):
        rules.find_session(db_session, area, "not-a-uuid")
    with pytest.raises(UploadNotFoundError):
        rules.find_session(db_session, make_area(db_session), str(upload.id))  # another area's
    upload.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db_session.flush()
    assert rules.find_same_session(db_session, area, declared) is None
    assert [u for u, _ in rules.expired_sessions(db_session, datetime.now(UTC), limit=10) if u is upload] == [
        upload
    ]
    assert rules.end_session(upload, UploadSessionStatus.EXPIRED) is True
    assert rules.end_session(upload, UploadSessionStatus.EXPIRED) is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", -1), ("sha256", "0" * 63), ("crc32c", "xyzxyzxy"), ("content_type", "bad\nvalue")],
)
def test_a_bad_declaration_is_refused(field: str, value: object) -> None:
    arguments: dict[str, object] = {"content_type": None, "sha256": None, "crc32c": None, field: value}
    size = arguments.pop("size", 1)
    with pytest.raises(InvalidInputError):
        rules.declared("f", size, **arguments)  # type: ignore[arg-type]


def test_the_part_signature_is_for_one_part_until_its_expiry() -> None:
    session_id = uuid.uuid4()
    signature = rules.part_signature("secret", session_id, 1, 2_000)
    rules.check_part_signature("secret", session_id, 1, 2_000, signature, now=1_000)
    for args in [(session_id, 2, 2_000), (uuid.uuid4(), 1, 2_000), (session_id, 1, 2_001)]:
        with pytest.raises(SignatureRefusedError, match="not valid"):
            rules.check_part_signature("secret", *args, signature, now=1_000)
    with pytest.raises(SignatureRefusedError, match="not valid"):
        rules.check_part_signature("another secret", session_id, 1, 2_000, signature, now=1_000)
    with pytest.raises(SignatureRefusedError, match="expired"):
        rules.check_part_signature("secret", session_id, 1, 2_000, signature, now=2_000)
