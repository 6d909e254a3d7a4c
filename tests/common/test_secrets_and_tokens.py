"""Generated local secrets and per-job callback tokens."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from upload_common.callback_tokens import TokenCheck, check_job_token, job_token, verify_job_token
from upload_common.domain.jobs import callback_environment
from upload_common.generated_secrets import resolve_secret
from upload_common.settings import Settings


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


def test_generated_secret_of_the_asked_form(tmp_path: Path) -> None:
    assert resolve_secret(None, tmp_path, "ingest_secret", generate=lambda: "whsec_AAAA") == "whsec_AAAA"
    assert (tmp_path / "ingest_secret").read_text() == "whsec_AAAA\n"


EXPIRES = 2_000_000_000


def test_token_is_bound_to_kind_record_and_expiry() -> None:
    token = job_token("server-secret", "validation", "1234", EXPIRES)
    expiry, digest = token.split(".")
    assert (expiry, len(digest)) == (str(EXPIRES), 64)  # the documented `<expiry>.<hex hmac>`
    now = EXPIRES - 1
    assert verify_job_token("server-secret", "validation", "1234", token, now=now)
    assert not verify_job_token("server-secret", "validation", "1235", token, now=now)
    assert not verify_job_token("server-secret", "checksum", "1234", token, now=now)
    assert not verify_job_token("other-secret", "validation", "1234", token, now=now)
    assert not verify_job_token("server-secret", "validation", "1234", token[:-1] + "0", now=now)
    assert not verify_job_token("server-secret", "validation", "1234", f"{EXPIRES + 1}.{digest}", now=now)


@pytest.mark.parametrize("token", ["", "abc", "0.", f"0{EXPIRES}.{'0' * 64}", f"{EXPIRES}.{'G' * 64}", "é"])
def test_malformed_tokens_are_invalid(token: str) -> None:
    assert check_job_token("s", "checksum", "r", token, now=0) is TokenCheck.INVALID


def test_a_token_expires_at_its_expiry_and_only_a_genuine_one_says_so() -> None:
    token = job_token("s", "checksum", "r", EXPIRES)
    assert check_job_token("s", "checksum", "r", token, now=EXPIRES - 1) is TokenCheck.VALID
    assert check_job_token("s", "checksum", "r", token, now=EXPIRES) is TokenCheck.EXPIRED
    assert check_job_token("s", "checksum", "other", token, now=EXPIRES) is TokenCheck.INVALID


def test_a_job_token_lasts_its_job_timeout_plus_the_margin() -> None:
    settings = Settings(callback_token_margin_seconds=600)
    environment = callback_environment(
        settings, "s", "checksum", "a", "r", job_timeout_seconds=24 * 3600, now=1_000_000.5
    )
    token = environment["UPLOAD_CALLBACK_TOKEN"]
    assert int(token.split(".")[0]) == 1_000_000 + 24 * 3600 + 600 + 1  # rounded up
    assert verify_job_token("s", "checksum", "r", token, now=1_000_000 + 24 * 3600 + 600)
    assert not verify_job_token("s", "checksum", "r", token, now=1_000_000 + 24 * 3600 + 601)
