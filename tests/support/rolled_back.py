"""The one rolled-back database context of the tests (SQLAlchemy's "join a session into an external
transaction" recipe, as pypi/warehouse uses it).

Every session a test opens, directly or through a service context's `sessions`, joins one connection's
transaction, and that transaction is rolled back when the test ends: code under test begins and commits
as it does in production (each commit is a SAVEPOINT), and nothing it writes outlives the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


@contextmanager
def rolled_back_sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory over one connection of `engine` whose outer transaction is rolled back on exit.

    Like the production factory (`upload_common.db.make_session_factory`), objects keep their attributes
    after a commit (`expire_on_commit=False`).
    """
    connection = engine.connect()
    transaction = connection.begin()
    try:
        yield sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    finally:
        transaction.rollback()
        connection.close()
