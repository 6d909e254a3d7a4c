"""The stage's database migration, as the deploy command sees it after an apply.

The migration runs inside the apply: Terraform invokes the stage's migration function (in the VPC, as the
schema's owner) after updating it and before updating the API and the workers
(terraform/modules/upload_service/migration.tf), and a failed migration fails the apply. This step only
reports what it did, from the `database_migration` output.

Fallback, for a stage applied with `run_migrations = false`: the function is invoked here through the
Lambda API (the runner needs no network route into the database), after the new code is live, so only
migrations that expand (docs/deployment.md) may ship that way. Nothing here sees a password.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def migrate(outputs: dict[str, Any], lambda_client: Any = None) -> dict[str, Any]:
    """The migration's report: the apply's, or that of an invocation made now when the apply made none."""
    values = {name: output["value"] for name, output in outputs.items()}
    result = values.get("database_migration")
    if result is None:
        result = _invoke(values["migration_function_name"], lambda_client)
    report: dict[str, Any] = json.loads(result) if isinstance(result, str) else result
    applied = ", ".join(report.get("applied") or []) or "none"
    sys.stdout.write(
        f"database at {report.get('to_revision')} (was {report.get('from_revision')}; applied: {applied})\n"
    )
    return report


def _invoke(function_name: str, client: Any) -> str:
    if client is None:
        import boto3  # noqa: PLC0415 - only the fallback needs AWS access from here

        client = boto3.client("lambda")
    response = client.invoke(FunctionName=function_name, InvocationType="RequestResponse")
    payload: str = response["Payload"].read().decode("utf-8")
    if response.get("FunctionError"):
        # The function's error names the failing migration; it carries no credentials.
        raise SystemExit(f"database migration failed in {function_name}: {payload}")
    return payload
