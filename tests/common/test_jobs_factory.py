"""`make_job_runner` builds the runner UPLOAD_JOB_RUNNER names; a wrong value stops start-up."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from moto import mock_aws

from upload_common.errors import ConfigurationError
from upload_common.jobs.batch import BatchJobRunner
from upload_common.jobs.factory import make_job_runner
from upload_common.jobs.local import LocalJobRunner
from upload_common.settings import Settings, load_settings


def test_default_is_the_local_runner_with_the_configured_validators(
    in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "UPLOAD_VALIDATORS",
        '{"quay.io/hca/fastq:1": "python -m fastq_check --strict", '
        '"dcp-upload/validator-json": "jq -e \'.\' \\"a b\\""}',
    )

    runner = make_job_runner(load_settings(Settings))

    assert isinstance(runner, LocalJobRunner)
    assert runner.state_dir == in_tmp_cwd / "var" / "jobs"
    harness = own_script("upload-validate")
    assert runner.image_commands == {
        "dcp-upload/checksum": [own_script("upload-checksum")],
        "dcp-upload/validator-fastq": [harness, "--validator", "upload-validator-fastq"],
        "dcp-upload/validator-gzip": [harness, "--validator", "upload-validator-gzip"],
        "dcp-upload/validator-json": [harness, "--validator", "jq -e . 'a b'"],
        "quay.io/hca/fastq:1": [harness, "--validator", "python -m fastq_check --strict"],
    }


def own_script(name: str) -> str:
    """The console script of this environment when it is installed here (not in a package's own tox env)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.is_file() else name


def test_explicit_image_commands_are_used_as_they_are(in_tmp_cwd: Path) -> None:
    runner = make_job_runner(load_settings(Settings), image_commands={"img": [sys.executable, "-c", "pass"]})
    assert isinstance(runner, LocalJobRunner)
    assert runner.image_commands == {"img": [sys.executable, "-c", "pass"]}


@pytest.mark.parametrize(
    ("command", "problem"), [("python 'unclosed", "cannot be parsed"), ("  ", "is empty")]
)
def test_a_bad_validator_command_names_the_variable(in_tmp_cwd: Path, command: str, problem: str) -> None:
    settings = load_settings(Settings, validators={"img": command})

    with pytest.raises(ConfigurationError, match=f"UPLOAD_VALIDATORS: command of 'img' {problem}"):
        make_job_runner(settings)


def test_aws_batch_is_built_from_settings() -> None:
    settings = load_settings(
        Settings,
        job_runner="aws-batch",
        batch_job_queue="upload-prod-validation",
        batch_job_role_arn="arn:aws:iam::123456789012:role/upload-validation-job",
        batch_name_prefix="upload-prod",
    )
    with mock_aws():
        runner = make_job_runner(settings)

    assert isinstance(runner, BatchJobRunner)
    assert (runner.job_queue, runner.job_role_arn, runner.name_prefix) == (
        "upload-prod-validation",
        "arn:aws:iam::123456789012:role/upload-validation-job",
        "upload-prod",
    )


def test_aws_batch_without_a_job_queue_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="UPLOAD_BATCH_JOB_QUEUE"):
        make_job_runner(load_settings(Settings, job_runner="aws-batch"))


def test_a_wrong_job_runner_lists_the_valid_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOAD_JOB_RUNNER", "kubernetes")

    with pytest.raises(ConfigurationError) as caught:
        load_settings(Settings)

    assert "UPLOAD_JOB_RUNNER" in str(caught.value)
    assert "'local' or 'aws-batch'" in str(caught.value)


def test_sandbox_options_reach_the_local_runner(in_tmp_cwd: Path) -> None:
    runner = make_job_runner(load_settings(Settings), network=True, hidden=[in_tmp_cwd / "var" / "secrets"])

    assert isinstance(runner, LocalJobRunner)
    assert runner.network is True
    assert runner.hidden == [str(in_tmp_cwd / "var" / "secrets"), str(in_tmp_cwd / "var" / "jobs")]
