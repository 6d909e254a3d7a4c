"""Least-privilege PostgreSQL roles of the services, created and granted by the migration function.

The migration function connects as the schema's owner (the RDS master user) and owns every table it
creates. The API and the workers connect as roles of their own that may read and write rows and use
sequences, and nothing else: no DDL (they own nothing and may not create in the schema), no TRUNCATE,
no other database. Default privileges give them the same on tables a later migration creates.

On RDS the roles log in with IAM database authentication only (`rds_iam`, no password); elsewhere
(PostgreSQL without `rds_iam`) they get no password from here: a deployment that wants them sets one.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

SERVICE_ROLES = ("upload_api", "upload_worker")
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # spliced into SQL (DDL takes no parameters)
_ROW_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def ensure_service_roles(connection: Connection, roles: tuple[str, ...] = SERVICE_ROLES) -> list[str]:
    """Create the service roles if missing and (re)grant them what the services need; idempotent.

    Runs in the caller's transaction; returns the roles granted `rds_iam` (empty off RDS).
    """
    if connection.dialect.name != "postgresql":
        return []  # SQLite has no roles: the embedded default is one process's file
    if bad := [role for role in roles if not _ROLE_NAME.fullmatch(role)]:
        raise ValueError(f"not a role name: {bad}")
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    database = connection.execute(text("SELECT current_database()")).scalar_one()
    has_rds_iam = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'")).first()
    for role in roles:
        _create_role(connection, role)
        statements = [
            f'GRANT CONNECT ON DATABASE "{database}" TO {role}',
            f'GRANT USAGE ON SCHEMA "{schema}" TO {role}',
            f'GRANT {_ROW_PRIVILEGES} ON ALL TABLES IN SCHEMA "{schema}" TO {role}',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}',
            # Tables and sequences the owner (this connection's user) creates later.
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" GRANT {_ROW_PRIVILEGES} ON TABLES TO {role}',
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" GRANT USAGE, SELECT ON SEQUENCES TO {role}',
        ]
        if has_rds_iam:
            statements.append(f"GRANT rds_iam TO {role}")
        for statement in statements:
            connection.execute(text(statement))
    # PostgreSQL before 15 lets every role create in `public`; from 15 on this changes nothing.
    connection.execute(text(f'REVOKE CREATE ON SCHEMA "{schema}" FROM PUBLIC'))
    return list(roles) if has_rds_iam else []


def _create_role(connection: Connection, role: str) -> None:
    # Roles belong to the whole server: another database's migration may create the same one at the
    # same moment. The loser of that race waits for the winner's commit, then fails with
    # unique_violation, so both outcomes mean "it exists". `role` matched _ROLE_NAME: a DO block takes
    # no bind parameters.
    block = (
        "DO $$ BEGIN "  # noqa: S608
        f"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN; "
        "END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )
    connection.execute(text(block))
