"""Settings: embedded defaults, environment, explicit arguments, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, field_validator

from upload_common.errors import ConfigurationError
from upload_common.settings import ENV_PREFIX, GIB, Settings, load_settings


def test_embedded_default_needs_no_variable(in_tmp_cwd: Path) -> None:
    settings = load_settings(Settings)
    assert settings.database_url == f"sqlite:///{in_tmp_cwd / 'var' / 'upload.db'}"
    assert settings.storage_url == f"file://{in_tmp_cwd / 'var' / 'storage'}"
    assert settings.queue_url == "db://"
    assert settings.job_runner == "local"
    assert settings.submitter_role_arn is None
    assert settings.checksum_inline_max_bytes == 10 * GIB
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_STORAGE_URL", "s3://my-bucket")
    monkeypatch.setenv("UPLOAD_API_KEYS", "key-one, key-two,,")
    monkeypatch.setenv("UPLOAD_VALIDATORS", '{"my/image": "python -m my_validator"}')
    monkeypatch.setenv("UPLOAD_PORT", "9090")
    settings = load_settings(Settings)
    assert settings.storage_url == "s3://my-bucket"
    assert [key.get_secret_value() for key in settings.api_keys] == ["key-one", "key-two"]
    assert settings.validators == {"my/image": "python -m my_validator"}
    assert settings.port == 9090


def test_upload_session_settings_are_read_from_their_documented_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/operations.md names them UPLOAD_SESSION_…; fields named `upload_session_…` once read
    UPLOAD_UPLOAD_SESSION_… instead, and `upload-api serve` ignored the documented variables."""
    monkeypatch.setenv("UPLOAD_SESSION_PART_SIZE_BYTES", "8388608")
    monkeypatch.setenv("UPLOAD_SESSION_TTL_SECONDS", "3600")
    settings = load_settings(Settings)
    assert (settings.session_part_size_bytes, settings.session_ttl_seconds) == (8388608, 3600)


def test_every_variable_is_the_prefix_and_the_field_name_once() -> None:
    # The variable is ENV_PREFIX + the field's name: a field named upload_… would double the prefix.
    doubled = [
        name for name in Settings.model_fields if f"{ENV_PREFIX}{name.upper()}".startswith(ENV_PREFIX * 2)
    ]
    assert doubled == []


def test_explicit_argument_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_QUEUE_URL", "https://sqs.example/123/from-env")
    assert load_settings(Settings, queue_url="db://").queue_url == "db://"


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_API_KEYS", "super-secret-key")
    monkeypatch.setenv("UPLOAD_SECRET_KEY", "server-secret")
    text = repr(load_settings(Settings))
    assert "super-secret-key" not in text
    assert "server-secret" not in text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("UPLOAD_PORT", "eighty"),
        ("UPLOAD_PORT", "70000"),
        ("UPLOAD_CHECKSUM_INLINE_MAX_BYTES", "-1"),
        ("UPLOAD_JOB_RUNNER", "kubernetes"),
        ("UPLOAD_STORAGE_URL", "gs://bucket"),
        ("UPLOAD_VALIDATORS", "{not json"),
        ("UPLOAD_SESSION_PART_SIZE_BYTES", "1048576"),  # below S3's smallest part
    ],
)
def test_bad_value_stops_with_the_variable_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings(Settings)


def test_bad_job_runner_lists_the_valid_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_JOB_RUNNER", "kubernetes")
    with pytest.raises(ConfigurationError, match=r"'local'.*'aws-batch'"):
        load_settings(Settings)


class _QuotingSettings(Settings):
    """A setting whose validator quotes the value it refuses, as a hurried one might."""

    signing_secret: SecretStr | None = None

    @field_validator("signing_secret", mode="before")
    @classmethod
    def _whsec(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.startswith("whsec_"):
            raise ValueError(f"{value!r} is not of the form whsec_<base64>")
        return value


def test_a_refused_value_is_never_repeated_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_SIGNING_SECRET", "hunter2-but-longer")
    monkeypatch.setenv("UPLOAD_PORT", "eighty")
    with pytest.raises(ConfigurationError) as error:
        load_settings(_QuotingSettings)
    message = str(error.value)
    assert "UPLOAD_SIGNING_SECRET: Value error, '<the value>' is not of the form whsec_<base64>" in message
    assert "UPLOAD_PORT: Input should be a valid integer" in message
    assert "hunter2" not in message
    assert error.value.__suppress_context__  # pydantic's own error (which shows inputs) stays out of logs
