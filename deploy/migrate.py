"""Migrate a stage's database to the latest schema after an apply.

The URL is built from the Terraform outputs (host, port, database, user) and the password RDS keeps in
Secrets Manager, fetched at run time. The password reaches `upload-db upgrade` only through its
environment; it is never printed, logged or written to disk. The database is private: this must run
from a network that reaches it (a CI runner in the VPC, or a group listed in the stage's
`database.extra_client_security_group_ids`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote


def migrate(outputs: dict[str, Any]) -> None:
    """Run `upload-db upgrade` against the database named by the stage's outputs."""
    values = {name: output["value"] for name, output in outputs.items()}
    secret_arn = values["db_instance_master_user_secret_arn"]
    password = _fetch_password(secret_arn)
    url = database_url(values, password)
    upload_db = shutil.which("upload-db") or str(Path(sys.executable).with_name("upload-db"))
    result = subprocess.run(  # noqa: S603 - the project's own migration command
        [upload_db, "upgrade"], env={**os.environ, "UPLOAD_DATABASE_URL": url}, check=False
    )
    if result.returncode != 0:
        raise SystemExit(
            f"database migration failed (exit {result.returncode}); see upload-db's output above"
        )


def database_url(values: dict[str, Any], password: str) -> str:
    """The SQLAlchemy URL of the stage's database, TLS required."""
    user = quote(str(values["db_instance_username"]), safe="")
    secret = quote(password, safe="")
    host, port, name = values["db_instance_address"], values["db_instance_port"], values["db_instance_name"]
    return f"postgresql+psycopg://{user}:{secret}@{host}:{port}/{name}?sslmode=require"


def _fetch_password(secret_arn: str) -> str:
    import boto3  # noqa: PLC0415 - only an apply that migrates needs AWS access from here

    response = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    password: str = json.loads(response["SecretString"])["password"]
    return password
