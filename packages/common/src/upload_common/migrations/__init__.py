"""Alembic migrations of the service database (script location `upload_common:migrations`)."""
