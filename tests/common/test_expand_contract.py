"""Migrations expand, so the previous release keeps working against the migrated schema (docs/deployment.md,
"Schema changes: expand, then contract").

1. Every migration after the baseline is run on a real PostgreSQL with its SQL recorded: none may drop or
   rename a table or column, change a column's type, make a column NOT NULL, or add a NOT NULL column
   without a default, unless it declares `contract_of = "<revision>"` (the expand it completes, an
   earlier revision that shipped in an earlier release). The classifier is checked on the downgrades,
   which do all of that, so it cannot pass by recognising nothing.
2. For every earlier revision R (each schema a previous release may have run on): the schema at R is
   reflected, the database upgraded to head, and R's queries (select, insert, update, delete with R's
   columns only) run on rows of every table of R.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, delete, event, insert, select, update
from sqlalchemy.orm import Session

from support.factories import (
    make_area,
    make_checksum,
    make_file,
    make_notification,
    make_upload_session,
    make_validation,
)
from support.scratch_database import scratch_database
from upload_common.db import make_engine
from upload_common.db.migrate import alembic_config, upgrade
from upload_common.models import ManifestEntry, QueueMessage

SCRIPT = ScriptDirectory.from_config(alembic_config())
REVISIONS = [script.revision for script in reversed(list(SCRIPT.walk_revisions()))]
BASELINE = REVISIONS[0]  # creates the schema: nothing before it to stay compatible with

CONTRACTING = {
    "drops a table": re.compile(r"\bDROP\s+TABLE\b", re.I),
    "drops a column": re.compile(r"\bDROP\s+COLUMN\b", re.I),
    "renames": re.compile(r"\bRENAME\b", re.I),
    "changes a column's type": re.compile(r"\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b", re.I),
    "makes a column NOT NULL": re.compile(r"\bALTER\s+COLUMN\s+\S+\s+SET\s+NOT\s+NULL\b", re.I),
    "adds a NOT NULL column without a default": re.compile(
        r"\bADD\s+COLUMN\b(?![^;]*\bDEFAULT\b)[^;]*\bNOT\s+NULL\b", re.I | re.S
    ),
}


def contracting(statements: list[str]) -> list[str]:
    """What in `statements` the previous release could not survive, one line each."""
    return [
        f"{what}: {sql.strip()[:120]}"
        for sql in statements
        for what, rx in CONTRACTING.items()
        if rx.search(sql)
    ]


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        command.downgrade(alembic_config(url), "base")
        yield url


def _recorded(engine: Engine, step: Any) -> list[str]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.begin() as connection:
            step(connection)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def test_migrations_after_the_baseline_only_expand(empty_database: str) -> None:
    engine = make_engine(empty_database)
    problems: dict[str, list[str]] = {}
    downgrade_problems: list[str] = []
    try:
        upgrade(connection=None, url=empty_database, revision=BASELINE)
        for revision in REVISIONS[1:]:
            statements = _recorded(engine, lambda c, r=revision: upgrade(connection=c, revision=r))
            assert statements, f"{revision} ran no SQL: nothing was recorded"
            found = contracting(statements)
            contract_of = getattr(_module(revision), "contract_of", None)
            if contract_of is not None:
                ancestors = {s.revision for s in SCRIPT.iterate_revisions(revision, "base")} - {revision}
                assert contract_of in ancestors, (
                    f"{revision}: contract_of={contract_of!r} is not an earlier revision"
                )
            elif found:
                problems[revision] = found
        # The downgrades drop what the upgrades added: the classifier must see it.
        for revision in reversed(REVISIONS[1:]):
            down = SCRIPT.get_revision(revision).down_revision
            downgrade_problems += contracting(_recorded(engine, lambda c, d=down: _downgrade(c, d)))
    finally:
        engine.dispose()
    assert problems == {}, "migrations that contract without `contract_of` (see docs/deployment.md)"
    assert any(p.startswith("drops a column") for p in downgrade_problems), downgrade_problems


def _downgrade(connection: Any, revision: str) -> None:
    config = alembic_config(connection=connection)
    command.downgrade(config, revision)


def _module(revision: str) -> Any:
    path = SCRIPT.get_revision(revision).path
    name = f"upload_common.migrations.versions.{path.rsplit('/', 1)[-1].removesuffix('.py')}"
    return importlib.import_module(name)


@pytest.mark.parametrize("previous", REVISIONS[:-1] or [REVISIONS[-1]])
def test_the_previous_schemas_queries_run_against_head(empty_database: str, previous: str) -> None:
    upgrade(empty_database, revision=previous)
    engine = make_engine(empty_database)
    try:
        old = MetaData()
        old.reflect(engine)  # the tables and columns a release at `previous` knows
        old.remove(old.tables["alembic_version"])
        upgrade(empty_database)  # head
        with Session(engine) as session, session.begin():
            # Valid rows in every table, made by today's code; then handled with the old columns only.
            make_checksum(session)
            make_validation(session, files=[make_file(session)])
            make_notification(session)
            session.add(QueueMessage(queue="checksum", body="{}"))  # the embedded queue's table
            area = make_area(session)
            make_upload_session(session, area)
            session.add(ManifestEntry(area_id=area.id, name="expected.fastq", size=1))
            session.flush()
            connection = session.connection()
            rows = {
                t.name: [dict(r._mapping) for r in connection.execute(select(t))] for t in old.sorted_tables
            }
            assert all(rows.values()), f"tables with no row to query: {[n for n, r in rows.items() if not r]}"
            for table in reversed(old.sorted_tables):
                connection.execute(delete(table))
            for table in old.sorted_tables:  # inserts that name only the old columns
                connection.execute(insert(table), rows[table.name])
            again = {
                t.name: [dict(r._mapping) for r in connection.execute(select(t))] for t in old.sorted_tables
            }
            assert again == rows
            for table in old.sorted_tables:  # updates of the old columns, one row by its key
                first = rows[table.name][0]
                column = next(c for c in table.columns if not c.primary_key and not c.foreign_keys)
                key = [c == first[c.name] for c in table.primary_key.columns]
                done = connection.execute(update(table).where(*key).values({column.name: first[column.name]}))
                assert done.rowcount == 1, table.name
            session.rollback()
    finally:
        engine.dispose()
