"""`upload-api serve` as its own process takes the upload-session settings from its environment.

The other session tests set the part size on the settings object; this one goes through what an
operator does: the documented variables in the environment of the served API (they were once read as
UPLOAD_UPLOAD_SESSION_…, and the served API answered 64 MiB parts whatever UPLOAD_SESSION_PART_SIZE_BYTES
said).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from integration.stack import Stack

pytestmark = pytest.mark.slow  # a process of its own, with its own migrated database

MIB = 1024 * 1024


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_served_api_answers_the_part_size_and_expiry_of_its_environment(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("api: upload-api serve\n")  # the API alone: no worker is needed here
    workdir = tmp_path / "stack"
    workdir.mkdir()
    stack = Stack(
        workdir,
        {
            "UPLOAD_API_KEYS": "served-settings-key",
            "UPLOAD_SESSION_PART_SIZE_BYTES": str(8 * MIB),
            "UPLOAD_SESSION_TTL_SECONDS": "3600",
        },
    )
    stack.migrate()
    stack.start(procfile)
    try:
        area = str(uuid.uuid4())
        with stack.client() as http:
            assert http.post(f"/v1/area/{area}").status_code == 201
            answer = http.post(f"/v2/areas/{area}/uploads", json={"name": "big.bin", "size": 100 * MIB})
        assert answer.status_code == 201, answer.text
        session = answer.json()
        assert (session["part_size"], session["part_count"]) == (8 * MIB, 13)
        assert _moment(session["expires_at"]) - _moment(session["created_at"]) == timedelta(seconds=3600)
    finally:
        stack.stop()
