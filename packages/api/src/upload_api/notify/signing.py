"""The bytes of a notification and the headers that identify and authenticate them.

The body is serialised once, deterministically, and the HMAC covers exactly those bytes, so a receiver
verifies the signature over the raw request body before parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

NOTIFICATION_ID_HEADER = "X-Upload-Notification-Id"
EVENT_HEADER = "X-Upload-Event"
SIGNATURE_HEADER = "X-Upload-Signature"
SIGNATURE_PREFIX = "sha256="


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The JSON body of a notification: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    """The value of the signature header: `sha256=` + hex HMAC-SHA256 of `body` under `secret`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(secret: str, body: bytes, signature: str) -> bool:
    """True when `signature` is `sign(secret, body)`; compared in constant time (for receivers)."""
    return hmac.compare_digest(sign(secret, body).encode("ascii"), signature.encode("utf-8", "replace"))
