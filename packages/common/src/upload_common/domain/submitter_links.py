"""Submitter links: a signed, expiring capability to upload to one area and read its status.

A link's token names its area and its expiry in the clear and carries an HMAC over both, under a key
derived from the server secret for this purpose alone (`callback_tokens.purpose_key`), so a token of
another kind (a job's, an upload part's) never passes as a link. Format:
`<area uuid>.<expiry>.<hmac>`, expiry in Unix seconds, hmac the hex HMAC-SHA256 of
`<area uuid>:<expiry>`. Changing either part breaks the HMAC.

A good token is not enough: the area must still take uploads *now* (`link_refusal`), so locking,
sealing, deleting or expiring the area stops every link to it at once, with no list of links to revoke.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from sqlalchemy.orm import Session

from upload_common.callback_tokens import purpose_key
from upload_common.domain.areas import BEING_DELETED, GONE, find_area
from upload_common.errors import InvalidInputError
from upload_common.statuses import AreaStatus

PURPOSE = "submitter-link"
DEFAULT_TTL_SECONDS = 7 * 24 * 3600
MAX_TTL_SECONDS = 30 * 24 * 3600
MIN_TTL_SECONDS = 60

_FORMAT = re.compile(r"(?P<area>[A-Za-z0-9-]{1,64})\.(?P<expiry>[1-9][0-9]{0,11})\.[0-9a-f]{64}")


class LinkCheck(Enum):
    VALID = "valid"
    EXPIRED = "expired"  # ours, for this area, but too late now
    OTHER_AREA = "other area"  # ours and unexpired, but for another area
    INVALID = "invalid"  # malformed or forged


@dataclass(frozen=True)
class SubmitterLink:
    token: str
    area_uuid: str
    expires_at: datetime


def link_ttl(requested: int | None, default: int) -> int:
    """The lifetime of a new link: `requested` (or `default`), within MIN_TTL_SECONDS..MAX_TTL_SECONDS."""
    ttl = default if requested is None else requested
    if not MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
        raise InvalidInputError(
            f"ttl_seconds must be {MIN_TTL_SECONDS}..{MAX_TTL_SECONDS} (30 days), not {ttl}"
        )
    return ttl


def issue_link(secret: str, area_uuid: str, ttl_seconds: int, *, now: float | None = None) -> SubmitterLink:
    """A link to `area_uuid` that expires `ttl_seconds` from `now` (default: the clock)."""
    expiry = int(time.time() if now is None else now) + ttl_seconds
    return SubmitterLink(_sign(secret, area_uuid, expiry), area_uuid, datetime.fromtimestamp(expiry, UTC))


def check_link(secret: str, area_uuid: str, token: str, *, now: float | None = None) -> LinkCheck:
    """What `token` is worth for a request about `area_uuid` at `now` (default: the clock).

    The HMAC is checked (in constant time) against the area the token names before anything else, so a
    forged token is INVALID whatever area or expiry it claims.
    """
    match = _FORMAT.fullmatch(token)
    if match is None:
        return LinkCheck.INVALID
    named, expiry = match["area"], int(match["expiry"])
    if not hmac.compare_digest(_sign(secret, named, expiry).encode(), token.encode()):
        return LinkCheck.INVALID
    if expiry <= (time.time() if now is None else now):
        return LinkCheck.EXPIRED
    return LinkCheck.VALID if named.lower() == area_uuid.lower() else LinkCheck.OTHER_AREA


def link_refusal(session: Session, area_uuid: str, *, now: datetime | None = None) -> str | None:
    """Why a good link to `area_uuid` may not be used now (the area is locked, sealed, being deleted,
    deleted or expired), or None when it may."""
    area = find_area(session, area_uuid)
    if area is None or area.status in GONE:
        return f"upload area {area_uuid} was deleted (or never existed): its links no longer work"
    if area.status in BEING_DELETED:
        return f"upload area {area_uuid} is being deleted: its links no longer work"
    if area.status is AreaStatus.LOCKED:
        return f"upload area {area_uuid} is locked: its links work again once it is unlocked"
    if area.status is AreaStatus.SEALED:
        return f"upload area {area_uuid} is sealed: it takes no more files"
    # Until the expiry sweep queues its deletion, an expired area is still UNLOCKED: the date decides.
    if area.expires_at is not None and area.expires_at <= (now or datetime.now(UTC)):
        return f"upload area {area_uuid} has expired: its links no longer work"
    return None


def _sign(secret: str, area_uuid: str, expiry: int) -> str:
    message = f"{area_uuid}:{expiry}".encode()
    digest = hmac.new(purpose_key(secret, PURPOSE), message, hashlib.sha256).hexdigest()
    return f"{area_uuid}.{expiry}.{digest}"
