"""The checksum tags on stored objects (`hca-dss-sha1`, ... with a configurable prefix).

Tags are how the data store reads checksums; the service writes them and never trusts them: its own
record of a version's checksums lives in the database.
"""

from __future__ import annotations

from collections.abc import Mapping

from upload_common.checksums import CHECKSUM_NAMES, Checksums
from upload_common.errors import ChecksumError
from upload_common.storage.base import ObjectStore


def checksum_tags(checksums: Checksums | Mapping[str, str], prefix: str) -> dict[str, str]:
    values = checksums.as_dict() if isinstance(checksums, Checksums) else dict(checksums)
    return {f"{prefix}{name}": values[name] for name in CHECKSUM_NAMES}


def tags_hold(tags: Mapping[str, str], checksums: Mapping[str, str], prefix: str) -> bool:
    """True when the object's tags carry exactly these checksums (other tags may be present too)."""
    return all(tags.get(f"{prefix}{name}", "").lower() == checksums[name] for name in CHECKSUM_NAMES)


def write_checksum_tags(
    store: ObjectStore, key: str, checksums: Checksums | Mapping[str, str], prefix: str
) -> None:
    """Put the checksum tags on the object in one call, keeping its other tags, and read them back.

    Raises `ChecksumError` when the tags read back are not the ones written (they did not stick, or
    something replaced them at once); the caller retries.
    """
    values = checksums.as_dict() if isinstance(checksums, Checksums) else dict(checksums)
    kept = {name: value for name, value in store.get_tags(key).items() if not name.startswith(prefix)}
    store.put_tags(key, kept | checksum_tags(values, prefix))
    if not tags_hold(store.get_tags(key), values, prefix):
        raise ChecksumError(f"{key}: the checksum tags did not stick")
