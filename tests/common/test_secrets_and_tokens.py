"""Generated local secrets and per-job callback tokens."""

from __future__ import annotations

import stat
from pathlib import Path

from pydantic import SecretStr

from upload_common.callback_tokens import job_token, verify_job_token
from upload_common.generated_secrets import resolve_secret


def test_configured_secret_wins(tmp_path: Path) -> None:
    assert resolve_secret(SecretStr("given"), tmp_path, "secret_key") == "given"
    assert not (tmp_path / "secret_key").exists()


def test_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    first = resolve_secret(None, tmp_path / "var", "secret_key")
    again = resolve_secret(SecretStr(""), tmp_path / "var", "secret_key")
    assert first == again
    assert len(first) >= 40
    assert stat.S_IMODE((tmp_path / "var" / "secret_key").stat().st_mode) == 0o600
    assert resolve_secret(None, tmp_path / "var", "ingest_secret") != first


def test_token_is_bound_to_kind_and_record() -> None:
    token = job_token("server-secret", "validation", "1234")
    assert verify_job_token("server-secret", "validation", "1234", token)
    assert not verify_job_token("server-secret", "validation", "1235", token)
    assert not verify_job_token("server-secret", "checksum", "1234", token)
    assert not verify_job_token("other-secret", "validation", "1234", token)
    assert not verify_job_token("server-secret", "validation", "1234", token[:-1] + "0")
