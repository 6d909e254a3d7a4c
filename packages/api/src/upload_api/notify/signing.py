"""The bytes of a notification and the Standard Webhooks headers that identify and authenticate them.

https://www.standardwebhooks.com/: `webhook-id` (the notification's id, the same on every attempt),
`webhook-timestamp` (the attempt's time, Unix seconds) and `webhook-signature` = `v1,` + base64
HMAC-SHA256 of `{id}.{timestamp}.{body}`. Because the id and the time are signed with the body, a
captured request cannot be re-sent under a new id (to slip past de-duplication) or after the
receiver's tolerance (5 minutes in the reference library).

The key: a `whsec_<base64>` secret is the base64-decoded bytes (the specification's form, which the
reference libraries accept as is); any other secret is its UTF-8 bytes (a receiver passes those bytes
to its library instead of the string).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from upload_common.errors import ConfigurationError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
# Not part of the signature: informative only. The signed body carries the same value as `event`.
EVENT_HEADER = "X-Upload-Event"
EVENT_FIELD = "event"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the form's prefix, not a secret
GENERATED_KEY_BYTES = 32  # within the 24..64 bytes the specification recommends


def encode_body(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """The JSON body of a notification: the payload plus `event` (so the event type is signed too);
    sorted keys, no insignificant whitespace, UTF-8."""
    document = {**payload, EVENT_FIELD: event_type}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signing_key(secret: str) -> bytes:
    """The HMAC key of `secret`: a `whsec_` secret's base64-decoded bytes, else the UTF-8 bytes.

    A malformed `whsec_` value stops start-up (without quoting it) rather than signing with a key
    that no receiver has.
    """
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode("utf-8")
    encoded = secret.removeprefix(SECRET_PREFIX).strip()
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        key = b""
    if not key:
        raise ConfigurationError("UPLOAD_INGEST_SECRET: a whsec_ secret must be base64 after the prefix")
    return key


def new_secret() -> str:
    """A fresh secret in the specification's `whsec_<base64>` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_KEY_BYTES)).decode("ascii")


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def signed_headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(key, message_id, timestamp, body),
    }
