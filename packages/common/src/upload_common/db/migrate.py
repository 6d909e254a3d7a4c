"""Alembic migrations shipped inside the package, run without an alembic.ini."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

SCRIPT_LOCATION = "upload_common:migrations"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        # ConfigParser interpolation would eat a literal % in a password.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str | None = None, *, connection: Connection | None = None, revision: str = "head") -> None:
    """Upgrade the database at `url` (or on an open `connection`) to `revision`."""
    command.upgrade(alembic_config(url, connection), revision)


def current(url: str) -> str | None:
    """The revision the database at `url` is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - only this command needs it

    from upload_common.db.engine import make_engine  # noqa: PLC0415

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
