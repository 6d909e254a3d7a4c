"""Per-job callback tokens: an HMAC over the job's record id and an expiry, with the server secret.

A job (checksum or validation) receives its token in its environment and sends it back as
`Authorization: Bearer <token>` on `update_checksum` / `update_validation`; the API recomputes it and
compares in constant time. A token is good for one record only, until its expiry, and reveals nothing
of the secret.

Format: `<expiry>.<hmac>`, where `<expiry>` is Unix seconds (decimal, no leading zeros) and `<hmac>`
is the hex HMAC-SHA256 of `<kind>:<record id>:<expiry>` under the server secret (`UPLOAD_SECRET_KEY`).
The expiry is in the clear so that a refusal can say "expired"; changing it breaks the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from enum import Enum
from typing import Literal

CallbackKind = Literal["checksum", "validation"]

_FORMAT = re.compile(r"([1-9][0-9]{0,11})\.[0-9a-f]{64}")


class TokenCheck(Enum):
    VALID = "valid"
    EXPIRED = "expired"  # issued by us for this record, but too late now
    INVALID = "invalid"  # malformed, forged, or for another record or kind


def purpose_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose (e.g. "submitter-link", "upload-part"), derived from the server secret.

    Each kind of signed token gets its own key, so a token made for one purpose can never pass as
    another's even where the signed messages happen to look alike.
    """
    return hmac.new(secret.encode(), f"dcp-upload key:{purpose}".encode(), hashlib.sha256).digest()


def job_token(secret: str, kind: CallbackKind, record_id: str, expires_at: int) -> str:
    """The token that authorises callbacks about one checksum or validation record until `expires_at`
    (Unix seconds)."""
    message = f"{kind}:{record_id}:{expires_at}".encode()
    return f"{expires_at}." + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_job_token(
    secret: str, kind: CallbackKind, record_id: str, token: str, *, now: float | None = None
) -> TokenCheck:
    """Whether `token` authorises callbacks about this record at `now` (default: the clock).

    The HMAC is compared in constant time; the expiry counts only once the HMAC matched, so a forged
    token is INVALID whatever expiry it claims.
    """
    match = _FORMAT.fullmatch(token)
    if match is None:
        return TokenCheck.INVALID
    expected = job_token(secret, kind, record_id, int(match.group(1)))
    if not hmac.compare_digest(expected.encode(), token.encode()):
        return TokenCheck.INVALID
    if int(match.group(1)) <= (time.time() if now is None else now):
        return TokenCheck.EXPIRED
    return TokenCheck.VALID


def verify_job_token(
    secret: str, kind: CallbackKind, record_id: str, token: str, *, now: float | None = None
) -> bool:
    """True when `token` was issued for this record and has not expired."""
    return check_job_token(secret, kind, record_id, token, now=now) is TokenCheck.VALID
