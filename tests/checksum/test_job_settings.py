"""The checksum job reads its variables through `ChecksumJobSettings`; a missing one stops it, named."""

from __future__ import annotations

import pytest

from upload_checksum import cli
from upload_checksum.job_settings import ChecksumJobSettings
from upload_common.errors import ConfigurationError
from upload_common.settings import load_settings

JOB_VARIABLES = {
    "UPLOAD_CHECKSUM_ID": "run-1",
    "UPLOAD_EXPECTED_ETAG": '"0123abcd"',
    "UPLOAD_CALLBACK_URL": "http://127.0.0.1:8080/v1/area/a/update_checksum/run-1",
    "UPLOAD_CALLBACK_TOKEN": "per-job-token",
}


@pytest.fixture
def no_job_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*JOB_VARIABLES, "AWS_BATCH_JOB_ID", "UPLOAD_JOB_ID"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_job_variables_are_read(no_job_variables: pytest.MonkeyPatch) -> None:
    for name, value in JOB_VARIABLES.items():
        no_job_variables.setenv(name, value)
    no_job_variables.setenv("UPLOAD_JOB_ID", "local-7")
    settings = load_settings(ChecksumJobSettings)
    assert (settings.checksum_id, settings.expected_etag) == ("run-1", '"0123abcd"')
    assert settings.callback_url == JOB_VARIABLES["UPLOAD_CALLBACK_URL"]
    assert settings.callback_token.get_secret_value() == "per-job-token"
    assert "per-job-token" not in repr(settings)
    assert settings.job_id == "local-7"
    no_job_variables.setenv("AWS_BATCH_JOB_ID", "batch-7")  # AWS Batch's own id wins
    assert load_settings(ChecksumJobSettings).job_id == "batch-7"


def test_missing_or_empty_job_variables_are_named(no_job_variables: pytest.MonkeyPatch) -> None:
    no_job_variables.setenv("UPLOAD_CHECKSUM_ID", "run-1")
    no_job_variables.setenv("UPLOAD_CALLBACK_TOKEN", "")
    with pytest.raises(ConfigurationError) as error:
        load_settings(ChecksumJobSettings)
    message = str(error.value)
    for name in ("UPLOAD_EXPECTED_ETAG", "UPLOAD_CALLBACK_URL", "UPLOAD_CALLBACK_TOKEN"):
        assert name in message
    assert "UPLOAD_CHECKSUM_ID" not in message


def test_the_run_command_stops_before_any_work_without_its_variables(
    no_job_variables: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "file:///nowhere/area/file"]) == 2
    error = capsys.readouterr().err
    assert all(name in error for name in JOB_VARIABLES), error
