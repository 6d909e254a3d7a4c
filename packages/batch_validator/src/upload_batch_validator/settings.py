"""Settings of the harness, read from the environment the scheduler (or the local runner) sets on the job."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator

from upload_common.errors import ConfigurationError
from upload_common.job_reports import Reporter
from upload_common.settings import Settings, load_settings

# Needed only when the harness reports to the API (not with --no-report).
REPORTING_VARIABLES = {
    "validation_id": "UPLOAD_VALIDATION_ID",
    "callback_url": "UPLOAD_CALLBACK_URL",
    "callback_token": "UPLOAD_CALLBACK_TOKEN",
}


class HarnessSettings(Settings):
    """What one validation job is told: which validation, where to report, how long to wait."""

    validation_id: str | None = Field(default=None, description="The validation this job runs.")
    callback_url: str | None = Field(
        default=None, description="Full URL of POST /v1/area/<uuid>/update_validation/<validation_id>."
    )
    callback_token: SecretStr | None = Field(default=None, description="Per-job token for the callback.")
    staging_dir: Path | None = Field(default=None, description="Where files are staged; unset: a temp dir.")
    staging_credentials_url: str | None = Field(
        default=None,
        description="Where the harness asks for credentials that read only this job's objects (with its "
        "callback token); unset: it stages with the credentials it has.",
    )
    validator_environment: str | None = Field(
        default=None,
        description="The caller's variables for the validator, a JSON object (the validator's only "
        "variables besides the harness's minimal base).",
    )
    validator_timeout_seconds: float = Field(
        default=3600, gt=0, description="How long the validator may run before it is killed."
    )
    callback_retry_wait_seconds: float = Field(
        default=1.0, ge=0, description="First wait between callback attempts (grows exponentially)."
    )
    callback_attempts: int = Field(default=5, ge=1, description="Attempts per callback before giving up.")
    # Not UPLOAD_-prefixed: AWS Batch sets AWS_BATCH_JOB_ID, the local runner sets UPLOAD_JOB_ID.
    job_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_BATCH_JOB_ID", "UPLOAD_JOB_ID"),
        description="The job's id, sent in every report.",
    )

    def reporter(self, url: str | None) -> Reporter:
        """A reporter that calls `url` with this job's token, id and retry settings (the callback URL for
        reports, the staging-credentials URL for credentials)."""
        if not (url and self.callback_token):
            raise ConfigurationError(f"UPLOAD_CALLBACK_TOKEN is needed to call {url or 'the API'}")
        return Reporter(
            url,
            self.callback_token.get_secret_value(),
            self.job_id,
            attempts=self.callback_attempts,
            retry_wait=self.callback_retry_wait_seconds,
        )

    @field_validator("callback_url", "staging_credentials_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


def load_harness_settings(*, reporting: bool) -> HarnessSettings:
    """Settings from the environment, or a `ConfigurationError` naming every missing or bad variable."""
    settings = load_settings(HarnessSettings)
    if reporting:
        missing = [name for field, name in REPORTING_VARIABLES.items() if not getattr(settings, field)]
        if missing:
            raise ConfigurationError(
                f"missing environment variable(s) {', '.join(missing)}; they are needed to report "
                "the result (pass --no-report to run without reporting)"
            )
    return settings
