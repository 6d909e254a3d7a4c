"""The bodies of the service's own queue messages, built and parsed in one place.

The checksum queue also carries S3 event notifications, which the checksum worker parses itself; the
API's "file uploaded" message is the one defined here.
"""

from __future__ import annotations

import json
from typing import Any

from upload_common.errors import InvalidInputError

FILE_UPLOADED = "file_uploaded"
AREA_DELETION = "area_deletion"
VALIDATION_SCHEDULING = "validation_scheduling"


def file_uploaded(area_uuid: str, name: str) -> str:
    """'This object was written; checksum its current version' (from `POST /v1/area/{uuid}/{name}`)."""
    return json.dumps({"type": FILE_UPLOADED, "area_uuid": area_uuid, "name": name})


def area_deletion(area_uuid: str) -> str:
    return json.dumps({"type": AREA_DELETION, "area_uuid": area_uuid})


def validation_scheduling(validation_id: str) -> str:
    return json.dumps({"type": VALIDATION_SCHEDULING, "validation_id": validation_id})


def parse(body: str, expected_type: str) -> dict[str, Any]:
    """The message's fields, or `InvalidInputError` when it is not a message of `expected_type`."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"message is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != expected_type:
        raise InvalidInputError(f"not a {expected_type} message: {body[:200]!r}")
    return data
