"""Choose the object store once, from settings, through a closed registry keyed by URL scheme."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from upload_common import boto_clients
from upload_common.errors import ConfigurationError
from upload_common.settings import Settings
from upload_common.storage.base import ObjectStore
from upload_common.storage.local import LocalObjectStore
from upload_common.storage.s3 import S3ObjectStore


def open_store(settings: Settings) -> ObjectStore:
    """The store `UPLOAD_STORAGE_URL` names (`file:///path` or `s3://bucket`), or a `ConfigurationError`."""
    scheme, separator, rest = settings.storage_url.partition("://")
    opener = STORES.get(scheme) if separator else None
    if opener is None:
        raise ConfigurationError(
            f"UPLOAD_STORAGE_URL: {settings.storage_url!r} names no known store; "
            f"valid choices: {', '.join(f'{name}://' for name in STORES)}"
        )
    return opener(rest, settings)


def _open_local(rest: str, settings: Settings) -> ObjectStore:
    del settings  # the local store needs nothing else
    root = Path(rest)
    if not rest or not root.is_absolute():
        raise ConfigurationError(
            f"UPLOAD_STORAGE_URL: file:// needs an absolute path (file:///path), got {rest!r}"
        )
    return LocalObjectStore(root)


def _open_s3(rest: str, settings: Settings) -> ObjectStore:
    parts = urlsplit(f"s3://{rest}")
    if not parts.netloc or parts.path.strip("/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"UPLOAD_STORAGE_URL: s3:// takes a bucket name only (s3://bucket), got {rest!r}"
        )
    return S3ObjectStore(parts.netloc, boto_clients.client("s3", settings))


# Closed on purpose: a new backend is a new entry here, never a dotted path read from settings.
STORES: dict[str, Callable[[str, Settings], ObjectStore]] = {"file": _open_local, "s3": _open_s3}
