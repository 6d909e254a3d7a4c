"""What the service tells its jobs (checksum job, validation harness) and what they may report back."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from upload_common.callback_tokens import CallbackKind, job_token
from upload_common.errors import InvalidInputError, NotFoundError
from upload_common.settings import Settings

E = TypeVar("E", bound=StrEnum)

_CALLBACK_PATHS: dict[CallbackKind, str] = {
    "checksum": "update_checksum",
    "validation": "update_validation",
}


def callback_base_url(settings: Settings) -> str:
    """Where jobs call the API back: UPLOAD_PUBLIC_URL, or the local API's own address."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def callback_environment(
    settings: Settings,
    secret_key: str,
    kind: CallbackKind,
    area_uuid: str,
    record_id: str,
    *,
    job_timeout_seconds: float,
    now: float | None = None,
) -> dict[str, str]:
    """`UPLOAD_CALLBACK_URL` and `UPLOAD_CALLBACK_TOKEN` of the job that reports on one record.

    The token expires `job_timeout_seconds` plus `callback_token_margin_seconds` after `now` (default:
    the clock): the margin covers the time a job waits in its queue before its timeout starts.
    """
    path = f"/v1/area/{area_uuid}/{_CALLBACK_PATHS[kind]}/{record_id}"
    issued = time.time() if now is None else now
    expires_at = math.ceil(issued + job_timeout_seconds + settings.callback_token_margin_seconds)
    return {
        "UPLOAD_CALLBACK_URL": callback_base_url(settings) + path,
        "UPLOAD_CALLBACK_TOKEN": job_token(secret_key, kind, record_id, expires_at),
    }


def staging_credentials_url(settings: Settings, area_uuid: str, validation_id: str) -> str:
    """Where a validation's harness asks for credentials that read only its files (authorised by the
    job's callback token)."""
    path = f"/v2/areas/{area_uuid}/validations/{validation_id}/staging-credentials"
    return callback_base_url(settings) + path


@dataclass(frozen=True)
class JobReport:
    """One report a job sent about its record: `{status, job_id, payload}`."""

    status: str
    job_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


def reported_status(value: str, statuses: type[E], reportable: Collection[E]) -> E:
    """The status a job reported, if it is one a job may report; else `InvalidInputError`."""
    try:
        status = statuses(value)
    except ValueError:
        raise InvalidInputError(f"unknown status {value!r}") from None
    if status not in reportable:
        raise InvalidInputError(f"a job cannot report {value}")
    return status


def parse_record_id(record_id: str, *, what: str, area_uuid: str) -> uuid.UUID:
    """The id of the record a job reports on; one that is no uuid names no record (`NotFoundError`)."""
    try:
        return uuid.UUID(record_id)
    except ValueError:
        raise NotFoundError(f"no {what} {record_id} in upload area {area_uuid}") from None
