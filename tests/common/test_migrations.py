"""The migrations build exactly the schema the models describe, on PostgreSQL and on SQLite."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from upload_common.db import make_engine, upgrade
from upload_common.db.migrate import alembic_config, current
from upload_common.models import Base


def test_autogenerate_finds_no_drift_between_models_and_migrations(any_engine: Engine) -> None:
    with any_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_database_is_at_the_single_head(any_engine: Engine) -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    assert current(any_engine.url.render_as_string(hide_password=False)) == heads[0]


def test_every_model_table_exists(any_engine: Engine) -> None:
    tables = set(inspect(any_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert {"upload_area", "file", "checksum", "validation", "validation_files", "notification"} <= tables
    assert "queue_message" in tables


def test_upgrade_downgrade_upgrade_round_trip_on_a_fresh_sqlite_file(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/round-trip.db"
    upgrade(url)
    upgrade_to_base(url)
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(url)
    assert current(url) is not None


def test_upgrade_is_idempotent(sqlite_url: str) -> None:
    before = current(sqlite_url)
    upgrade(sqlite_url)
    assert current(sqlite_url) == before


def upgrade_to_base(url: str) -> None:
    from alembic import command  # noqa: PLC0415 - only this test goes down

    command.downgrade(alembic_config(url), "base")
