"""What every service process needs, built once from settings and passed explicitly.

No module-level singletons: each entry point (server, worker loop, Lambda handler, job) builds its own
context, and tests build theirs from explicit settings. Queues and the job runner open on first use,
so a process that never sends a message never connects to a queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from upload_common.db import make_session_factory
from upload_common.db.connect import make_service_engine
from upload_common.generated_secrets import resolve_secret
from upload_common.jobs import JobRunner
from upload_common.queues import MessageQueue, open_queue
from upload_common.secrets_manager import with_secrets
from upload_common.settings import Settings
from upload_common.storage import ObjectStore, open_store


@dataclass(kw_only=True)
class ServiceContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore
    secret_key: str
    job_runner: JobRunner | None = None
    _queues: dict[str, MessageQueue] = field(default_factory=dict)

    def queue(self, name: str) -> MessageQueue:
        """The logical queue `name` ("checksum", "deletion", "validation"), opened on first use."""
        if name not in self._queues:
            self._queues[name] = open_queue(self.settings, self.engine, name)
        return self._queues[name]


def service_parts(settings: Settings) -> dict[str, object]:
    """The keyword arguments of a `ServiceContext` (or a subclass) built from `settings`, with the
    secrets that `*_SECRET_ARN` settings name fetched from Secrets Manager first."""
    settings = with_secrets(settings)
    engine = make_service_engine(settings)
    return {
        "settings": settings,
        "engine": engine,
        "sessions": make_session_factory(engine),
        "store": open_store(settings),
        "secret_key": resolve_secret(settings.secret_key, settings.var_dir, "secret_key"),
    }


def build_service_context(settings: Settings) -> ServiceContext:
    return ServiceContext(**service_parts(settings))  # type: ignore[arg-type]
