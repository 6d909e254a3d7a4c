"""The submitter-link rule (`upload_common.domain.submitter_links`): what a token is worth, and its
lifetime's bounds. Which areas stop their links is tested on the real app (tests/api)."""

from __future__ import annotations

import pytest

from upload_common.callback_tokens import job_token, purpose_key
from upload_common.domain.submitter_links import (
    DEFAULT_TTL_SECONDS,
    MAX_TTL_SECONDS,
    LinkCheck,
    check_link,
    issue_link,
    link_ttl,
)
from upload_common.errors import InvalidInputError

SECRET = "server-secret"
AREA = "0f6e1b0a-5d7c-4f4e-9a57-2d1f3c4b5a69"
OTHER = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
NOW = 1_800_000_000.0


def test_a_link_is_good_for_its_area_until_its_expiry() -> None:
    link = issue_link(SECRET, AREA, 3600, now=NOW)

    assert link.token.startswith(f"{AREA}.{int(NOW) + 3600}.")
    assert link.expires_at.timestamp() == NOW + 3600
    assert check_link(SECRET, AREA, link.token, now=NOW + 3599) is LinkCheck.VALID
    assert check_link(SECRET, AREA.upper(), link.token, now=NOW) is LinkCheck.VALID
    assert check_link(SECRET, AREA, link.token, now=NOW + 3600) is LinkCheck.EXPIRED
    assert check_link(SECRET, OTHER, link.token, now=NOW) is LinkCheck.OTHER_AREA


def test_any_change_or_another_secret_makes_it_invalid() -> None:
    token = issue_link(SECRET, AREA, 3600, now=NOW).token
    area, expiry, digest = token.split(".")
    forged = [
        f"{OTHER}.{expiry}.{digest}",  # claims another area
        f"{area}.{int(expiry) + 1}.{digest}",  # claims a later expiry
        f"{area}.{expiry}.{'0' * 64}",
        token + "0",
        "",
        "not a token",
        issue_link("another-secret", AREA, 3600, now=NOW).token,
    ]
    for candidate in forged:
        assert check_link(SECRET, AREA, candidate, now=NOW) is LinkCheck.INVALID, candidate
    # A forged token for another area is INVALID too, never "another area's" (that would be a 403).
    assert check_link(SECRET, AREA, forged[0], now=NOW) is LinkCheck.INVALID


def test_each_purpose_has_its_own_key() -> None:
    assert purpose_key(SECRET, "submitter-link") != purpose_key(SECRET, "upload-part")
    assert purpose_key(SECRET, "submitter-link") != SECRET.encode()
    # A job token signs with the secret itself: in the link's format it is still no link.
    expiry = int(NOW) + 3600
    job = job_token(SECRET, "checksum", AREA, expiry)
    assert check_link(SECRET, AREA, f"{AREA}.{job}", now=NOW) is LinkCheck.INVALID


def test_lifetime_defaults_and_bounds() -> None:
    assert link_ttl(None, DEFAULT_TTL_SECONDS) == 7 * 86400
    assert link_ttl(3600, DEFAULT_TTL_SECONDS) == 3600
    assert link_ttl(MAX_TTL_SECONDS, DEFAULT_TTL_SECONDS) == 30 * 86400
    for wrong in (0, 59, MAX_TTL_SECONDS + 1):
        with pytest.raises(InvalidInputError, match="ttl_seconds"):
            link_ttl(wrong, DEFAULT_TTL_SECONDS)
