"""Typed settings read from the `UPLOAD_*` environment variables (DESIGN §8).

An explicit argument beats the environment; the embedded default needs no variable at all. A bad value
stops start-up with a `ConfigurationError` that names the variable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from upload_common.domain.images import check_allow_entry
from upload_common.errors import ConfigurationError, InvalidImageReferenceError

ENV_PREFIX = "UPLOAD_"
GIB = 1024**3


# Scoped upload credentials: STS's minimum DurationSeconds, and the cap AWS puts on role chaining (the
# API assumes the submitter role from a role of its own, e.g. its Lambda's).
CREDENTIALS_DURATION_LIMITS = (900, 3600)


def credentials_duration_problem(seconds: int) -> str | None:
    """Why STS cannot grant upload credentials of `seconds`, or None when it can."""
    low, high = CREDENTIALS_DURATION_LIMITS
    if low <= seconds <= high:
        return None
    return (
        f"must be {low}..{high} seconds: {low} is STS's minimum, and the API assumes the submitter role "
        "from a role of its own (role chaining), which AWS caps at one hour"
    )


def _var_dir() -> Path:
    return Path.cwd() / "var"


class Settings(BaseSettings):
    """Settings shared by every package; a package may subclass it to add its own."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{_var_dir() / 'upload.db'}",
        description="SQLAlchemy URL of the service database.",
        repr=False,  # it may carry a password
    )
    storage_url: str = Field(
        default_factory=lambda: f"file://{_var_dir() / 'storage'}",
        description="Where objects live: file:///path or s3://bucket.",
    )
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (emulators).")
    # Not UPLOAD_-prefixed: the standard AWS variables (Lambda sets both; AWS_REGION wins).
    aws_region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="Region of every AWS client; unset: us-east-1 (SQS on AWS: the region in the URL).",
    )
    queue_url: str = Field(default="db://", description="db:// or an SQS queue URL.")
    job_runner: Literal["local", "aws-batch"] = Field(default="local", description="Who runs jobs.")
    batch_job_queue: str | None = Field(default=None, description="AWS Batch job queue (name or ARN).")
    batch_job_role_arn: str | None = Field(default=None, description="Role the AWS Batch jobs run with.")
    batch_name_prefix: str = Field(
        default="upload", description="Prefix of the AWS Batch job definitions (one per image)."
    )
    submitter_role_arn: str | None = Field(
        default=None, description="Role assumed for scoped upload credentials; unset: not offered."
    )
    staging_role_arn: str | None = Field(
        default=None,
        description="Role assumed for a validation job's staging credentials (read only its files); "
        "unset: jobs stage with their own credentials.",
    )
    credentials_duration_seconds: int = Field(
        default=CREDENTIALS_DURATION_LIMITS[0],
        description="Lifetime of scoped upload credentials (900..3600: STS's minimum, and AWS's cap on "
        "role chaining); clients refresh them before they expire.",
    )
    # Each field is read from UPLOAD_<FIELD>: `upload_session_…` would have read UPLOAD_UPLOAD_SESSION_….
    session_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="An upload session not completed this long after its creation expires; the sweep "
        "aborts it and deletes its parts.",
    )
    session_part_size_bytes: int | None = Field(
        default=None,
        ge=5 * 1024 * 1024,
        description="Part size of upload sessions when smaller than the service's rule (64 MiB up to "
        "625 GiB; then the larger of this and what 10,000 parts need); unset: the rule, which makes "
        "an S3 object's ETag its s3_etag.",
    )
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(), description="Accepted Api-Key values, comma-separated."
    )
    ingest_url: str | None = Field(default=None, description="Base URL that receives notifications.")
    ingest_secret: SecretStr | None = Field(
        default=None,
        description="Standard Webhooks signing secret for notifications: whsec_<base64>, or a plain "
        "string whose UTF-8 bytes are the key.",
    )
    ingest_jwt_key: SecretStr | None = Field(
        default=None,
        description="Service-account key (Google JSON, base64 JSON or PEM) for an RS256 bearer JWT on "
        "notifications; unset (and no key file): no JWT is sent.",
    )
    ingest_jwt_key_file: Path | None = Field(
        default=None, description="File holding the service-account key (instead of UPLOAD_INGEST_JWT_KEY)."
    )
    ingest_jwt_audience: str | None = Field(
        default=None, description="`aud` of the notification JWT; required when a key is configured."
    )
    ingest_jwt_issuer: str | None = Field(
        default=None, description="`iss`/`sub` of the notification JWT when the key is a bare PEM."
    )
    notification_max_attempts: int = Field(
        default=15, ge=1, description="Delivery attempts of a notification before it is FAILED."
    )
    notification_backoff_seconds: float = Field(
        default=2.0, gt=0, description="Delay after the first failed attempt; doubles after each one."
    )
    notification_backoff_max_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="Cap on the delay between attempts (plus up to the initial delay of jitter).",
    )
    notification_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of each network phase of one delivery attempt."
    )
    secret_key: SecretStr | None = Field(default=None, description="Server secret for job callback tokens.")
    callback_token_margin_seconds: int = Field(
        default=6 * 3600,
        ge=300,
        description="A job's callback token expires this long after its job's timeout would (covers the "
        "time a job waits in its queue before it starts).",
    )
    public_url: str | None = Field(default=None, description="Base URL that jobs use to call back.")
    submitter_link_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="Lifetime of a submitter link when its request names none (at most 30 days); "
        "locking, sealing, deleting or expiring the area stops its links sooner.",
    )
    # On AWS, Terraform passes only the ARNs of secrets; their values are fetched at run time.
    database_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret with the password to add to database_url."
    )
    database_iam_auth: bool = Field(
        default=False,
        description="Connect to PostgreSQL (RDS) with IAM database authentication: a fresh token per "
        "connection, as database_user; no password and no database secret.",
    )
    database_user: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL role to connect as (with IAM authentication: required); unset: the "
        "user of database_url.",
    )
    api_keys_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret with the accepted Api-Key values."
    )
    ingest_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret with the Standard Webhooks signing secret of notifications.",
    )
    secret_key_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret with the server secret for job callback tokens."
    )
    ingest_jwt_key_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret with the service-account key of the notification JWT.",
    )
    health_webhook_url: SecretStr | None = Field(
        default=None,
        description="Slack-compatible incoming webhook that receives the daily health report "
        "(`upload-api health-report`); unset: the report is only printed. A secret: the URL is the key.",
    )
    health_webhook_url_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret with health_webhook_url."
    )
    checksum_inline_max_bytes: int = Field(
        default=10 * GIB, ge=0, description="Above this size checksumming runs as a job."
    )
    checksum_job_image: str = Field(
        default="dcp-upload/checksum",
        description="Image of the job that checksums files too large to do inline.",
    )
    validation_max_bytes: int = Field(
        default=10**12, ge=0, description="Files of one validation must add up to less than this (1 TB)."
    )
    validator_timeout_seconds: float = Field(
        default=3600, gt=0, description="Wall-clock limit of a validator."
    )
    validator_user: str | None = Field(
        default=None,
        pattern=r"^([a-z_][a-z0-9_-]*[$]?|[0-9]+)$",
        description="User (name or uid) a validator runs as when its harness runs as root, so that the "
        "harness and the validator never share a user; unset: the harness's own user (the validator "
        "image sets `nobody`; on the embedded default the bubblewrap sandbox confines the job, and a "
        "root-owned Python there may not be usable by another user).",
    )
    validation_scheduling_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Attempts at submitting a validation's job (re-queues included) before it is FAILED.",
    )
    checksum_stale_after_seconds: int = Field(
        default=90, ge=6, description="A checksum run without a heartbeat this long has lost its worker."
    )
    area_ttl_seconds: int = Field(
        default=90 * 24 * 3600,
        ge=0,
        description="A new area expires this long after its creation (then it is deleted) unless its "
        "creation or PATCH /v2/areas/{uuid} says otherwise; 0: new areas never expire.",
    )
    area_expiry_warning_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        description="The area_expiring notification goes out this long before an area expires "
        "(once per area; right away when less time is left); 0: no warning.",
    )
    queue_visibility_timeout_seconds: int = Field(
        default=300, ge=1, le=43200, description="How long the embedded queue hides a received message."
    )
    checksum_tag_prefix: str = Field(
        default="hca-dss-", pattern=r"^[A-Za-z0-9_.:/=+@-]{0,64}$", description="Prefix of the checksum tags."
    )
    validators: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="JSON map of validator image name to local command."
    )
    validator_images: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        default=None,
        description="Validator images callers may run: exact references (a digest may be added to a "
        "listed name) and registry/repository prefixes ending in '/', comma-separated or a JSON list; "
        "unset: the local runner's validator images (required with aws-batch).",
    )
    host: str = Field(default="127.0.0.1", description="Where `make run` listens.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `make run` listens on.")
    # Rate limits of the unauthenticated endpoints (upload_api.rate_limits), per API process.
    rate_limit_client_per_minute: int = Field(
        default=600,
        ge=0,
        description="Requests per minute one client address may make to the limited "
        "unauthenticated endpoints; 0: no per-client limit.",
    )
    rate_limit_client_burst: int = Field(
        default=120, ge=1, description="Requests a client address may make at once before its rate applies."
    )
    rate_limit_area_per_minute: int = Field(
        default=1200,
        ge=0,
        description="Requests per minute to the limited unauthenticated endpoints of "
        "one upload area, from all clients together; 0: no per-area limit.",
    )
    rate_limit_area_burst: int = Field(
        default=240, ge=1, description="Requests to one area at once before its rate applies."
    )
    rate_limit_max_buckets: int = Field(
        default=10000,
        ge=1,
        description="Clients (and areas) whose limits are remembered; beyond this the "
        "longest idle is forgotten (bounds memory).",
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        description="Reverse proxies in front of the API that append to X-Forwarded-For; "
        "0: the client address is the connection's (the header is never trusted).",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, value: str) -> str:
        if not value.startswith(("file://", "s3://")):
            raise ValueError("must start with file:// or s3://")
        return value

    @field_validator("credentials_duration_seconds")
    @classmethod
    def _credentials_duration(cls, value: int) -> int:
        problem = credentials_duration_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("validators", mode="before")
    @classmethod
    def _validators_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON object: {exc}") from None
        return value

    @field_validator("validator_images", mode="before")
    @classmethod
    def _split_images(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a JSON list: {exc}") from None
            else:
                return tuple(entry.strip() for entry in value.split(",") if entry.strip())
        if isinstance(value, list):
            return tuple(entry.strip() if isinstance(entry, str) else entry for entry in value)
        return value

    @field_validator("validator_images")
    @classmethod
    def _image_entries(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for entry in value or ():
            try:
                check_allow_entry(entry)
            except InvalidImageReferenceError as exc:
                raise ValueError(str(exc)) from None  # pydantic reports ValueErrors, naming the variable
        return value

    @property
    def var_dir(self) -> Path:
        """Where the embedded default keeps generated secrets and local data."""
        return _var_dir()


S = TypeVar("S", bound=Settings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment and `overrides`, or stop with a message naming the variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        # Never the value itself (`str(exc)` shows it): it may be a secret, or a URL with a password.
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            message, value = error["msg"], error.get("input")
            # A validator's message may quote what it refused (too short a value is no secret, and
            # replacing it would garble the message).
            if isinstance(value, str) and len(value) >= 4:
                message = message.replace(value, "<the value>")
            problems.append(f"{ENV_PREFIX}{field.upper()}: {message}")
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None
