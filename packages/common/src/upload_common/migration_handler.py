"""The migration function: upgrade the schema to head as its owner, and grant the services' roles.

Deployed from the api zip as `upload_common.migration_handler.handler` inside the VPC, and invoked by
the Terraform apply after this function is updated and before the API and the workers are
(terraform/modules/upload_service/migration.tf). It connects with the master secret
(UPLOAD_DATABASE_SECRET_ARN, re-read if RDS has rotated it). It is idempotent, and two invocations
never migrate at once (the upgrade's advisory lock); the second finds nothing to apply.
"""

from __future__ import annotations

import logging
from typing import Any

from upload_common.db.connect import make_service_engine
from upload_common.db.migrate import upgrade
from upload_common.db.roles import ensure_service_roles
from upload_common.secrets_manager import with_secrets
from upload_common.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def migrate_database(settings: Settings) -> dict[str, Any]:
    """Upgrade the database of `settings` to head and (re)grant the service roles, in one transaction."""
    engine = make_service_engine(with_secrets(settings))
    try:
        with engine.begin() as connection:
            report = upgrade(connection=connection)
            rds_iam_roles = ensure_service_roles(connection)
    finally:
        engine.dispose()
    return report.as_dict() | {"rds_iam_roles": rds_iam_roles}


def handler(_event: Any, _context: Any) -> dict[str, Any]:
    """Lambda entry point; the event is ignored (the target is always head)."""
    result = migrate_database(load_settings(Settings))
    logger.info("database migrated: %s", result)  # revisions and role names only, never credentials
    return result
