"""The engine a service process connects with: its own role, and credentials that survive rotation.

- IAM database authentication (`UPLOAD_DATABASE_IAM_AUTH`): every new connection gets a fresh token
  from `rds.generate_db_auth_token` as its password, for the role `UPLOAD_DATABASE_USER`. A token is
  valid for 15 minutes at connect time only; pooled connections are recycled after 10 minutes anyway,
  so no connection outlives many rotations of the signing credentials.
- A password from Secrets Manager (`UPLOAD_DATABASE_SECRET_ARN`, e.g. the master secret RDS rotates):
  when PostgreSQL refuses it (SQLSTATE 28P01), the secret is read again and the connection retried
  once, so a warm function keeps working after a rotation.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from upload_common.db.engine import make_engine
from upload_common.errors import ConfigurationError
from upload_common.secrets_manager import database_credentials
from upload_common.settings import Settings

AUTH_FAILED_SQLSTATE = "28P01"  # invalid_password
IAM_POOL_RECYCLE_SECONDS = 600  # below the 15 minutes an IAM token is valid


def make_service_engine(
    settings: Settings, *, secrets_client: Any = None, rds_client: Any = None, **kwargs: Any
) -> Engine:
    """The engine of `settings` (after `with_secrets`), connecting as the service's role."""
    url = make_url(settings.database_url)
    if settings.database_iam_auth:
        return _iam_engine(settings, url, rds_client, **kwargs)
    # A secret holds a user with its password: its user wins over UPLOAD_DATABASE_USER.
    if settings.database_user and not settings.database_secret_arn:
        url = url.set(username=settings.database_user)
    engine = make_engine(url.render_as_string(hide_password=False), **kwargs)
    if settings.database_secret_arn and url.get_backend_name() == "postgresql":
        password = _RotatingPassword(settings, settings.database_secret_arn, secrets_client)
        event.listen(engine, "do_connect", password.connect)
    return engine


def is_authentication_failure(error: BaseException) -> bool:
    """Whether `error` is PostgreSQL refusing a password (psycopg reports no SQLSTATE before login)."""
    sqlstate = getattr(error, "sqlstate", None)
    return sqlstate == AUTH_FAILED_SQLSTATE or "password authentication failed" in str(error)


def _iam_engine(settings: Settings, url: Any, rds_client: Any, **kwargs: Any) -> Engine:
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError("UPLOAD_DATABASE_IAM_AUTH: IAM authentication needs a PostgreSQL database")
    if not settings.database_user:
        raise ConfigurationError("UPLOAD_DATABASE_USER: required with UPLOAD_DATABASE_IAM_AUTH")
    if rds_client is None:
        from upload_common import boto_clients  # noqa: PLC0415 - boto3 only with IAM authentication

        rds_client = boto_clients.client("rds", settings)
    host, port, user = url.host, url.port or 5432, settings.database_user
    kwargs.setdefault("pool_recycle", IAM_POOL_RECYCLE_SECONDS)
    engine = make_engine(url.set(password=None).render_as_string(hide_password=False), **kwargs)

    def connect(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        # RDS accepts a token only over TLS; the default (prefer) would allow a plain connection.
        cparams.setdefault("sslmode", "require")
        cparams["user"] = user
        cparams["password"] = rds_client.generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user, Region=rds_client.meta.region_name
        )

    event.listen(engine, "do_connect", connect)
    return engine


class _RotatingPassword:
    """The credentials of a database secret: the current ones, re-read once when PostgreSQL refuses them."""

    def __init__(self, settings: Settings, arn: str, client: Any) -> None:
        self._settings, self._arn, self._client = settings, arn, client
        self._credentials: tuple[str, str] | None = None  # None: as the URL has them (with_secrets)
        self._lock = threading.Lock()

    def connect(self, dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        if self._credentials is not None:
            cparams["user"], cparams["password"] = self._credentials
        try:
            return dialect.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.OperationalError as exc:
            if not is_authentication_failure(exc):
                raise
        refused = cparams.get("password")
        cparams["user"], cparams["password"] = self._reread(refused)
        return dialect.connect(*cargs, **cparams)  # once: a second refusal is a real error

    def _reread(self, refused: str | None) -> tuple[str, str]:
        with self._lock:
            # Another connection may have re-read it already: one read per rotation, not per connection.
            if self._credentials is not None and self._credentials[1] != refused:
                return self._credentials
            if self._client is None:
                from upload_common import boto_clients  # noqa: PLC0415

                self._client = boto_clients.client("secretsmanager", self._settings)
            self._credentials = database_credentials(self._client, self._arn)
            return self._credentials
