"""Alembic migrations shipped inside the package, run without an alembic.ini."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from upload_common.db.engine import make_engine

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


# Key of the PostgreSQL advisory lock every upgrade holds ("upload_m" in ASCII): two migrations of one
# database at once (an apply's invocation and a retry, an operator's `upload-db`) queue instead of racing.
MIGRATION_LOCK_KEY = 0x75706C6F61645F6D


@dataclass(frozen=True)
class MigrationReport:
    """What an upgrade did: the revision before and after, and the migrations applied, oldest first."""

    from_revision: str | None
    to_revision: str | None
    applied: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"from_revision": self.from_revision, "to_revision": self.to_revision, "applied": self.applied}


def upgrade(
    url: str | None = None, *, connection: Connection | None = None, revision: str = "head"
) -> MigrationReport:
    """Upgrade the database at `url` (or on an open `connection`) to `revision`.

    On PostgreSQL the upgrade runs in one transaction under an advisory lock, so concurrent upgrades
    run one after the other and the later one finds nothing left to do. An open `connection` is left
    in its transaction for the caller to commit.
    """
    if connection is not None:
        return _locked_upgrade(connection, revision)
    if url is None:
        raise ValueError("upgrade needs a URL or a connection")
    engine = make_engine(url)
    try:
        with engine.begin() as own:
            return _locked_upgrade(own, revision)
    finally:
        engine.dispose()


def _locked_upgrade(connection: Connection, revision: str) -> MigrationReport:
    if connection.dialect.name == "postgresql":
        # Transaction-scoped: released by the commit (or rollback) that ends the migration.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    before = MigrationContext.configure(connection).get_current_revision()
    config = alembic_config(connection=connection)
    command.upgrade(config, revision)
    after = MigrationContext.configure(connection).get_current_revision()
    script = ScriptDirectory.from_config(config)
    applied = [] if after == before else [r.revision for r in script.iterate_revisions(after, before)]
    return MigrationReport(from_revision=before, to_revision=after, applied=list(reversed(applied)))


def current(url: str) -> str | None:
    """The revision the database at `url` is at, or None for an empty database."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
