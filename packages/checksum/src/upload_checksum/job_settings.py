"""Settings of the checksum job, read from the environment `submit_checksum_job` sets on it (DESIGN §8)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr

from upload_common.settings import Settings


class ChecksumJobSettings(Settings):
    """What one checksum job is told: which run, which version, where to report.

    The job variables are required: `load_settings(ChecksumJobSettings)` stops with a
    `ConfigurationError` naming every one that is missing or empty.
    """

    checksum_id: str = Field(min_length=1, description="The checksum run this job reports on.")
    expected_etag: str = Field(
        min_length=1, description="ETag of the version to checksum; another one is reported ABORTED."
    )
    callback_url: str = Field(
        min_length=1, description="Full URL of POST /v1/area/<uuid>/update_checksum/<checksum_id>."
    )
    callback_token: SecretStr = Field(min_length=1, description="Per-job token for the callback.")
    # Not UPLOAD_-prefixed: AWS Batch sets AWS_BATCH_JOB_ID; UPLOAD_JOB_ID names the job elsewhere.
    job_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_BATCH_JOB_ID", "UPLOAD_JOB_ID"),
        description="The job's id, sent in every report.",
    )
