"""Per-job callback tokens: an HMAC over the job's record id with the server secret.

A job (checksum or validation) receives its token in its environment and sends it back as
`Authorization: Bearer <token>` on `update_checksum` / `update_validation`; the API recomputes it and
compares in constant time. A token is good for one record only and reveals nothing of the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

CallbackKind = Literal["checksum", "validation"]


def job_token(secret: str, kind: CallbackKind, record_id: str) -> str:
    """The token that authorises callbacks about one checksum or validation record."""
    message = f"{kind}:{record_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_job_token(secret: str, kind: CallbackKind, record_id: str, token: str) -> bool:
    """True when `token` was issued for this record; constant-time."""
    return hmac.compare_digest(job_token(secret, kind, record_id).encode(), token.encode())
