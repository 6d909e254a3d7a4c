"""The checksum tags on stored objects (`hca-dss-sha1`, ... with a configurable prefix).

Tags are how the data store reads checksums; the service writes them and never trusts them: its own
record of a version's checksums lives in the database.
"""

from __future__ import annotations

from collections.abc import Mapping

from upload_common.checksums import CHECKSUM_NAMES, Checksums
from upload_common.errors import ChecksumError, ObjectReplacedError
from upload_common.storage.base import ObjectStore

# Another writer's tags can land between our write and our read-back (it checked the version just
# before ours replaced it); writing again wins, as that writer then finds its object replaced.
TAG_ATTEMPTS = 3


def checksum_tags(checksums: Checksums | Mapping[str, str], prefix: str) -> dict[str, str]:
    values = checksums.as_dict() if isinstance(checksums, Checksums) else dict(checksums)
    return {f"{prefix}{name}": values[name] for name in CHECKSUM_NAMES}


def tags_hold(tags: Mapping[str, str], checksums: Mapping[str, str], prefix: str) -> bool:
    """True when the object's tags carry exactly these checksums (other tags may be present too)."""
    return all(tags.get(f"{prefix}{name}", "").lower() == checksums[name] for name in CHECKSUM_NAMES)


def write_checksum_tags(
    store: ObjectStore,
    key: str,
    checksums: Checksums | Mapping[str, str],
    prefix: str,
    *,
    etag: str | None = None,
) -> None:
    """Put the checksum tags on the object in one call, keeping its other tags, and read them back.

    With `etag`, the tags are for that version only: `ObjectReplacedError` when the object is another
    version before or after the write (the tags may then sit on the newer version, whose own event
    re-tags it). Raises `ChecksumError` when the tags read back are still not the ones written.
    """
    values = checksums.as_dict() if isinstance(checksums, Checksums) else dict(checksums)
    for _ in range(TAG_ATTEMPTS if etag is not None else 1):
        _check_version(store, key, etag)
        kept = {name: value for name, value in store.get_tags(key).items() if not name.startswith(prefix)}
        store.put_tags(key, kept | checksum_tags(values, prefix))
        held = tags_hold(store.get_tags(key), values, prefix)
        _check_version(store, key, etag)
        if held:
            return
    raise ChecksumError(f"{key}: the checksum tags did not stick")


def _check_version(store: ObjectStore, key: str, etag: str | None) -> None:
    if etag is not None and (current := store.head(key).etag) != etag:
        raise ObjectReplacedError(f"{key}: replaced by another write (ETag {current}, not {etag})")
