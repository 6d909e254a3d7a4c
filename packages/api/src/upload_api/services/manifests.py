"""An area's manifest (put, read with verdicts) and its seal (rules: `domain.manifests`, `domain.seals`)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any, BinaryIO, cast

import ijson

from upload_api.context import ApiContext
from upload_api.names import check_filename
from upload_common.domain import manifests, seals
from upload_common.domain.areas import existing_area
from upload_common.errors import InvalidInputError, InvalidNameError, NotFoundError

SPOOL_BYTES = 1024 * 1024  # a manifest body larger than this waits on disk, not in memory
_CHUNK_BYTES = 64 * 1024  # the GET's body goes out in pieces of about this size


def put_manifest(context: ApiContext, area_uuid: str, body: IO[bytes]) -> dict[str, Any]:
    """Make the JSON document `body` (`{"files": [...]}`) the area's manifest; what it expects and
    whether the area is complete now.

    The body is first copied to a spool (memory up to `SPOOL_BYTES`, then a temporary file), so that no
    database transaction waits on the network; it is then parsed incrementally and inserted in batches.
    """
    with context.sessions() as session:
        existing_area(session, area_uuid)  # 404 before reading a body for nothing
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        shutil.copyfileobj(body, spool, _CHUNK_BYTES)
        spool.seek(0)
        with context.sessions.begin() as session:
            area = manifests.manifest_area(session, area_uuid)
            count = manifests.replace_manifest(session, area, _entries(spool))
            complete = bool(area.manifest_complete)
    return {"upload_area_id": area_uuid, "expected_files": count, "complete": complete}


def _entries(body: IO[bytes]) -> Iterator[manifests.ExpectedFile]:
    """The manifest's entries, parsed one at a time, each checked (the file-name rules included)."""
    items: Iterable[Any] = ijson.items(body, "files.item", use_float=False)
    try:
        for position, item in enumerate(items):
            entry = manifests.expected_file(item, position)
            try:
                entry.name.encode("utf-8")  # JSON escapes can spell unpaired surrogates: no name
                check_filename(entry.name)
            except (InvalidNameError, UnicodeEncodeError) as exc:
                raise InvalidInputError(f"files[{position}].name {entry.name!r}: {exc}") from None
            yield entry
    except ijson.JSONError as exc:
        raise InvalidInputError(f"the manifest is not valid JSON: {exc}") from None


def manifest_document(context: ApiContext, area_uuid: str) -> Iterator[bytes]:
    """The manifest with every expected file's verdict, the extra files and `complete`, as JSON in
    pieces (streamed: never built whole). 404 (before anything is sent) when the area has none."""
    with context.sessions() as session:
        area = existing_area(session, area_uuid)
        if not manifests.has_manifest(session, area.id):
            raise NotFoundError(f"upload area {area_uuid} has no manifest")
        area_id = area.id
    return _document(context, area_uuid, area_id)


def _document(context: ApiContext, area_uuid: str, area_id: int) -> Iterator[bytes]:
    with context.sessions() as session:
        counts = manifests.verdict_counts(session, area_id)
        complete = counts[manifests.Verdict.VERIFIED] == sum(counts.values())
        head = {"upload_area_id": area_uuid, "complete": complete, "verdicts": counts}
        pieces = _Pieces()
        yield from pieces.add(json.dumps(head)[:-1] + ', "files": [')
        for index, entry in enumerate(manifests.expected_files(session, area_id)):
            yield from pieces.add(("," if index else "") + json.dumps(entry))
        yield from pieces.add('], "extra_files": [')
        for index, extra in enumerate(manifests.extra_files(session, area_id)):
            yield from pieces.add(("," if index else "") + json.dumps(extra))
        yield from pieces.add("]}")
        yield from pieces.flush()


class _Pieces:
    """Collects text into pieces of about `_CHUNK_BYTES`, so the body is not sent entry by entry."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, text: str) -> Iterator[bytes]:
        data = text.encode("utf-8")
        self._parts.append(data)
        self._size += len(data)
        if self._size >= _CHUNK_BYTES:
            yield from self.flush()

    def flush(self) -> Iterator[bytes]:
        if self._parts:
            yield b"".join(self._parts)
        self._parts, self._size = [], 0


def seal_area(context: ApiContext, area_uuid: str) -> dict[str, Any]:
    """Seal the area (idempotent): the seal's time and the inventory's URL and sha256. The inventory is
    spooled (memory up to `SPOOL_BYTES`) and stored in the transaction that seals the area."""
    with context.sessions.begin() as session:
        started = seals.start_seal(session, area_uuid)
        if isinstance(started, seals.Seal):
            seal = started
        else:
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
                inventory = seals.write_inventory(session, started, spool)
                spool.seek(0)
                context.store.put(
                    inventory.key,
                    cast(BinaryIO, spool),
                    size=inventory.size,
                    content_type=seals.INVENTORY_MEDIA_TYPE,
                )
            url = context.store.object_url(inventory.key)
            seal = seals.finish_seal(session, started, inventory, url=url)
    return {
        "upload_area_id": seal.upload_area_id,
        "sealed_at": seal.sealed_at.isoformat(),
        "inventory": {"url": context.store.object_url(seal.inventory_key), "sha256": seal.inventory_sha256},
    }
