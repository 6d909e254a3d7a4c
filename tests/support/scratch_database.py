"""A freshly migrated PostgreSQL database of its own, for tests whose transactions must really commit
(concurrent writers); it needs only the common package, so every package's tox environment can use it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from upload_common.db import upgrade


@contextmanager
def scratch_database(postgres_url: str) -> Iterator[str]:
    """A freshly migrated database on the server of `postgres_url`, dropped afterwards."""
    name = f"scratch_{uuid.uuid4().hex}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
