"""Everything a request or a worker needs, built once from settings and passed explicitly.

No module-level singletons: the app factory and the workers build their own `ApiContext`, and tests
build theirs from explicit settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from upload_common.credentials import CredentialIssuer, make_credential_issuer
from upload_common.db import make_engine, make_session_factory
from upload_common.local_secrets import resolve_secret
from upload_common.queues import MessageQueue, open_queue
from upload_common.settings import Settings
from upload_common.storage import ObjectStore, open_store

CHECKSUM_TAG_PREFIX = "hca-dss-"


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore
    credential_issuer: CredentialIssuer | None
    api_keys: tuple[bytes, ...]
    secret_key: str
    _queues: dict[str, MessageQueue] = field(default_factory=dict)

    def queue(self, name: str) -> MessageQueue:
        """The logical queue `name` ("checksum", "deletion", "validation"), opened on first use."""
        if name not in self._queues:
            self._queues[name] = open_queue(self.settings, self.engine, name)
        return self._queues[name]

    @property
    def bucket(self) -> str:
        """What the `upload_area.bucket` column records: the bucket, or the local store's root."""
        url = self.store.url
        return url.removeprefix("s3://").removeprefix("file://")

    def area_uri(self, area_uuid: str) -> str:
        return f"{self.store.url.rstrip('/')}/{area_uuid}/"


def build_context(settings: Settings) -> ApiContext:
    """Open the database, the store and the credential issuer named by `settings`."""
    keys = tuple(key.get_secret_value() for key in settings.api_keys)
    if not keys:
        keys = (resolve_secret(None, settings.var_dir, "api_key"),)
    engine = make_engine(settings.database_url)
    return ApiContext(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        store=open_store(settings),
        credential_issuer=make_credential_issuer(settings),
        api_keys=tuple(key.encode() for key in keys),
        secret_key=resolve_secret(settings.secret_key, settings.var_dir, "secret_key"),
    )
