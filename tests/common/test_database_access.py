"""The migration function and the services' database access, on a real PostgreSQL that checks passwords.

- The migration (as the owner) reports what it applied, is idempotent, and two at once never race.
- The roles it grants can do the services' row work and no DDL.
- A password from Secrets Manager is re-read when PostgreSQL refuses it (rotation), once.
- IAM authentication gives each new connection a token as its password, over TLS unless told otherwise.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from alembic.script import ScriptDirectory
from moto import mock_aws
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from support.factories import make_checksum, make_file, make_notification, make_validation
from support.postgres import ThrowawayPostgres
from support.waiting import wait_until
from upload_common.db.cli import main as upload_db
from upload_common.db.connect import make_service_engine
from upload_common.db.migrate import MIGRATION_LOCK_KEY, alembic_config
from upload_common.db.roles import SERVICE_ROLES
from upload_common.errors import ConfigurationError
from upload_common.migration_handler import handler, migrate_database
from upload_common.queues import open_queue
from upload_common.secrets_manager import with_secrets
from upload_common.settings import Settings, load_settings

# Roles that must log in with a password on this server (the service roles, for the tests' sake).
PASSWORD_ROLES = (*SERVICE_ROLES, "rotating", "iam_user")
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
ALL_REVISIONS = [
    r.revision for r in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
]


@pytest.fixture(scope="module")
def server() -> Iterator[ThrowawayPostgres]:
    try:
        postgres = ThrowawayPostgres().start(password_roles=PASSWORD_ROLES)
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL server for password authentication: {exc}")
    yield postgres
    postgres.stop()


@pytest.fixture
def database(server: ThrowawayPostgres) -> Iterator[str]:
    """An empty database of its own (not migrated), as the owner's (superuser's) URL."""
    name = f"access_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server.url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _as(url: str, user: str, password: str) -> str:
    return make_url(url).set(username=user, password=password).render_as_string(hide_password=False)


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def test_the_migration_reports_what_it_applied_and_is_idempotent(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPLOAD_DATABASE_URL", database)
    first = handler({}, None)
    assert first == {
        "from_revision": None,
        "to_revision": HEAD,
        "applied": ALL_REVISIONS,
        "rds_iam_roles": [],  # no rds_iam role: not RDS
    }
    assert handler({}, None) == {
        "from_revision": HEAD,
        "to_revision": HEAD,
        "applied": [],
        "rds_iam_roles": [],
    }


def test_the_migration_works_on_the_embedded_sqlite(tmp_path: Any) -> None:
    result = migrate_database(load_settings(Settings, database_url=f"sqlite:///{tmp_path}/m.db"))
    assert (result["to_revision"], result["applied"], result["rds_iam_roles"]) == (HEAD, ALL_REVISIONS, [])


def test_two_migrations_at_once_run_one_after_the_other(database: str) -> None:
    settings = load_settings(Settings, database_url=database)
    holder = create_engine(database)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate_database(settings))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    with holder.connect() as held:
        # Hold the migration lock so that both are certainly waiting on it at the same time.
        held.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        for thread in threads:
            thread.start()
        wait_until(lambda: _lock_waiters(held) == 2, what="both migrations waiting on the lock")
        held.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        held.commit()
    for thread in threads:
        thread.join(timeout=120)
    holder.dispose()
    assert errors == []
    assert sorted(len(result["applied"]) for result in results) == [0, len(ALL_REVISIONS)]
    assert {result["to_revision"] for result in results} == {HEAD}


def _lock_waiters(connection: Any) -> int:
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    count: int = connection.execute(text(query)).scalar_one()
    connection.commit()
    return count


@pytest.fixture
def migrated(database: str) -> str:
    migrate_database(load_settings(Settings, database_url=database))
    # The deployment's choice for this test: the roles log in with a password (on RDS: IAM tokens).
    _execute(database, *(f"ALTER ROLE {role} PASSWORD 'pw-{role}'" for role in SERVICE_ROLES))
    return database


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_a_service_role_does_the_row_work_of_the_services(migrated: str, role: str) -> None:
    settings = load_settings(Settings, database_url=_as(migrated, role, f"pw-{role}"))
    engine = make_service_engine(settings)
    try:
        with Session(engine) as session, session.begin():
            assert session.execute(text("SELECT current_user")).scalar_one() == role
            checksum = make_checksum(session)
            make_validation(session, files=[make_file(session)])
            make_notification(session)
            session.execute(text("SELECT pg_advisory_xact_lock(42)"))  # the domain's per-file lock
            checksum.status = checksum.status  # an UPDATE needs no more than the grants given
            session.delete(make_notification(session))
        queue = open_queue(settings, engine, "checksum")  # the embedded queue's table
        queue.send("{}")
        (message,) = queue.receive(max_messages=1, wait_seconds=0)
        queue.ack(message)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE notification",
        "ALTER TABLE file ADD COLUMN extra text",
        "CREATE TABLE intruder (id int)",
        "TRUNCATE notification",
        "CREATE INDEX ix_intruder ON file (size)",
        "ALTER TABLE upload_area OWNER TO upload_worker",
    ],
)
def test_a_service_role_can_change_no_schema(migrated: str, statement: str) -> None:
    engine = create_engine(_as(migrated, "upload_api", "pw-upload_api"))
    try:
        with engine.connect() as connection, pytest.raises(ProgrammingError) as refused:
            connection.execute(text(statement))
        assert refused.value.orig is not None
        assert getattr(refused.value.orig, "sqlstate", None) == "42501"  # insufficient_privilege
    finally:
        engine.dispose()


def test_tables_a_later_migration_creates_are_granted_by_default(migrated: str) -> None:
    _execute(migrated, "CREATE TABLE later_table (id serial PRIMARY KEY, note text)")  # as the owner
    engine = create_engine(_as(migrated, "upload_worker", "pw-upload_worker"))
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO later_table (note) VALUES ('granted')"))
            assert connection.execute(text("SELECT note FROM later_table")).scalar_one() == "granted"
    finally:
        engine.dispose()


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def _rotating_engine(database: str, secrets: Any, password: str) -> tuple[Engine, str]:
    _execute(database, f"CREATE ROLE rotating LOGIN PASSWORD '{password}'")
    arn = secrets.create_secret(
        Name=f"db-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"username": "rotating", "password": password}),
    )["ARN"]
    settings = load_settings(
        Settings,
        database_url=make_url(database).set(username="nobody").render_as_string(hide_password=False),
        database_secret_arn=arn,
    )
    return make_service_engine(with_secrets(settings, secrets), secrets_client=secrets), str(arn)


@pytest.fixture
def cleanup_rotating(server: ThrowawayPostgres) -> Iterator[None]:
    yield
    _execute(server.url, "DROP ROLE IF EXISTS rotating")


def test_a_warm_engine_re_reads_a_rotated_password_once(
    database: str, secrets: Any, cleanup_rotating: None
) -> None:
    engine, arn = _rotating_engine(database, secrets, "before-rotation")
    try:
        with engine.connect() as connection:
            first_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # Rotation: the role's password and the secret change; the pooled connection is closed (as a
        # restart or an idle timeout does), so the next checkout must log in again.
        _execute(
            database,
            "ALTER ROLE rotating PASSWORD 'after-rotation'",
            f"SELECT pg_terminate_backend({first_pid})",
        )
        secrets.put_secret_value(
            SecretId=arn, SecretString=json.dumps({"username": "rotating", "password": "after-rotation"})
        )
        wait_until(lambda: not _backend_alive(database, first_pid), what="the old connection to close")
        with engine.connect() as connection:
            user, pid = connection.execute(text("SELECT current_user, pg_backend_pid()")).one()
        assert (user, pid != first_pid) == ("rotating", True)
        # A refusal after the re-read is a real error (one retry, no loop).
        _execute(database, "ALTER ROLE rotating PASSWORD 'third'")
        engine.dispose()
        with pytest.raises(OperationalError, match="password authentication failed"):
            engine.connect().close()
    finally:
        engine.dispose()


def _backend_alive(database: str, pid: int) -> bool:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            query = "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"
            return bool(connection.execute(text(query), {"pid": pid}).scalar_one())
    finally:
        engine.dispose()


def test_upload_db_takes_the_password_from_the_secret(
    database: str, secrets: Any, cleanup_rotating: None, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    engine, arn = _rotating_engine(database, secrets, "from-the-secret")
    engine.dispose()
    monkeypatch.setenv(
        "UPLOAD_DATABASE_URL", make_url(database).set(username="nobody").render_as_string(hide_password=False)
    )
    monkeypatch.setenv("UPLOAD_DATABASE_SECRET_ARN", arn)
    assert upload_db(["current"]) == 0
    assert capsys.readouterr().out == "database at revision (empty)\n"


class _Signer:
    """Stands in for boto3's RDS token signer only (tokens embed the time, so no role could hold one)."""

    def __init__(self, token: str) -> None:
        self.token, self.calls = token, []  # type: list[dict[str, Any]]
        self.meta = type("Meta", (), {"region_name": "eu-west-1"})()

    def generate_db_auth_token(self, **parameters: Any) -> str:
        self.calls.append(parameters)
        return self.token


@pytest.fixture
def cleanup_iam_user(server: ThrowawayPostgres) -> Iterator[None]:
    yield
    _execute(server.url, "DROP ROLE IF EXISTS iam_user")


def test_iam_authentication_passes_a_token_per_connection(database: str, cleanup_iam_user: None) -> None:
    _execute(database, "CREATE ROLE iam_user LOGIN PASSWORD 'token-1'")
    signer = _Signer("token-1")
    url = make_url(database).set(query={"sslmode": "disable"})  # this test server has no TLS
    settings = load_settings(
        Settings,
        database_url=url.render_as_string(hide_password=False),
        database_iam_auth=True,
        database_user="iam_user",
    )
    engine = make_service_engine(settings, rds_client=signer)
    try:
        for _ in range(2):
            with engine.connect() as connection:
                assert connection.execute(text("SELECT current_user")).scalar_one() == "iam_user"
            engine.dispose()  # the next checkout opens a new connection
        assert engine.pool._recycle == 600  # connections live less long than a token
    finally:
        engine.dispose()
    port = make_url(database).port
    expected = {"DBHostname": "127.0.0.1", "Port": port, "DBUsername": "iam_user", "Region": "eu-west-1"}
    assert signer.calls == [expected, expected]


def test_iam_authentication_requires_tls_by_default(database: str) -> None:
    settings = load_settings(
        Settings, database_url=database, database_iam_auth=True, database_user="iam_user"
    )
    engine = make_service_engine(settings, rds_client=_Signer("token"))
    try:
        # The server has no TLS: sslmode=require refuses to go on without it, before any password.
        with pytest.raises(OperationalError, match="SSL"):
            engine.connect().close()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"database_iam_auth": True}, "UPLOAD_DATABASE_USER"),
        (
            {"database_iam_auth": True, "database_user": "u", "database_url": "sqlite:///x.db"},
            "UPLOAD_DATABASE_IAM_AUTH",
        ),
    ],
)
def test_iam_authentication_needs_a_user_and_postgresql(overrides: dict[str, Any], variable: str) -> None:
    settings = load_settings(Settings, **({"database_url": "postgresql://db.internal/upload"} | overrides))
    with pytest.raises(ConfigurationError, match=variable):
        make_service_engine(settings, rds_client=_Signer("t"))


def test_with_iam_authentication_the_database_secret_is_not_read(secrets: Any) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-missing"  # reading it would fail
    settings = load_settings(
        Settings,
        database_url="postgresql://upload@db.internal/upload",
        database_secret_arn=missing,
        database_iam_auth=True,
        database_user="upload_api",
    )
    assert with_secrets(settings, secrets).database_url == settings.database_url
    with pytest.raises(ConfigurationError, match="UPLOAD_DATABASE_SECRET_ARN"):
        with_secrets(settings.model_copy(update={"database_iam_auth": False}), secrets)
