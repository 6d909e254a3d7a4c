"""Database engines, sessions and schema migrations."""

from upload_common.db.engine import make_engine, make_session_factory, session_scope
from upload_common.db.migrate import upgrade

__all__ = ["make_engine", "make_session_factory", "session_scope", "upgrade"]
