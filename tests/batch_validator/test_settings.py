"""The harness's settings: the job's variables, typed, with errors that name the variable."""

from __future__ import annotations

import pytest

from upload_batch_validator.settings import load_harness_settings
from upload_common.errors import ConfigurationError


def test_the_job_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_VALIDATION_ID", "v-1")
    monkeypatch.setenv("UPLOAD_CALLBACK_URL", "https://api.example/v1/area/a/update_validation/v-1")
    monkeypatch.setenv("UPLOAD_CALLBACK_TOKEN", "t0k3n-value")
    monkeypatch.setenv("UPLOAD_VALIDATOR_TIMEOUT_SECONDS", "90")
    monkeypatch.setenv("AWS_BATCH_JOB_ID", "batch-job-7")
    settings = load_harness_settings(reporting=True)
    assert settings.validation_id == "v-1"
    assert settings.callback_token is not None
    assert settings.callback_token.get_secret_value() == "t0k3n-value"
    assert "t0k3n-value" not in repr(settings)
    assert settings.validator_timeout_seconds == 90
    assert settings.job_id == "batch-job-7"


def test_defaults_without_reporting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_JOB_ID", "local-3")  # what the local runner sets
    settings = load_harness_settings(reporting=False)
    assert (settings.validator_timeout_seconds, settings.callback_attempts) == (3600, 5)
    assert settings.staging_dir is None
    assert settings.job_id == "local-3"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "UPLOAD_VALIDATOR_TIMEOUT_SECONDS",
            "0",
            "UPLOAD_VALIDATOR_TIMEOUT_SECONDS: Input should be greater than 0",
        ),
        ("UPLOAD_CALLBACK_URL", "file:///etc/passwd", "UPLOAD_CALLBACK_URL: Value error, must be an http"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as raised:
        load_harness_settings(reporting=False)
    assert message in str(raised.value)
