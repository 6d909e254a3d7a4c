"""Sealing an area: it is frozen for good, and an immutable inventory of its files is stored and hashed.

A seal moves the area to SEALED (`state_machines.transition_area`): `areas.writable_area` refuses it
from then on, so no write, credentials, submitter link or upload session is accepted, and it is never
unlocked. The inventory lists every current file (name, size, content type, the four checksums, the
latest validation of that version, how many versions it replaced), in name order, as canonical JSON
(sorted keys, no spaces); its sha256 is of the stored bytes, so anyone can recompute it.

The inventory is stored in the area, under `<uuid>/.dcp-upload/`: the service's own prefix. No file can
be named under it (`is_service_name`: the file-name rules refuse it), the checksum worker and
reconciliation skip it, and the area's deletion removes it with everything else under `<uuid>/`.

Sealing is refused (`ChecksummingError`, 409) while any current version's checksums are still unknown:
the inventory holds every file's checksums. Sealing a sealed area answers the same inventory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from upload_common.domain.areas import BEING_DELETED, existing_area
from upload_common.domain.outbox import notify_area_event
from upload_common.domain.state_machines import transition_area
from upload_common.domain.validations import of_newest_validation_of_version
from upload_common.errors import ConflictError
from upload_common.models import FileVersion, UploadArea, Validation
from upload_common.statuses import AreaStatus, FileStatus, NotificationType

SERVICE_PREFIX = ".dcp-upload/"  # names under it are the service's own objects, never files
INVENTORY_MEDIA_TYPE = "application/json"
_NAMED = 100  # a refusal names at most this many files still being checksummed


class ChecksummingError(ConflictError):
    """The area cannot be sealed yet: some of its files are still being checksummed."""


@dataclass(frozen=True)
class Seal:
    upload_area_id: str
    sealed_at: datetime
    inventory_key: str
    inventory_sha256: str


def is_service_name(name: str) -> bool:
    """True for a name under the service's own prefix (`SERVICE_PREFIX`): never a file of the area."""
    return name.startswith(SERVICE_PREFIX)


def inventory_key(area_uuid: str, sealed_at: datetime) -> str:
    return f"{area_uuid}/{SERVICE_PREFIX}inventory-{sealed_at.strftime('%Y%m%dT%H%M%S%fZ')}.json"


def start_seal(session: Session, area_uuid: str) -> UploadArea | Seal:
    """Seal the area in the caller's transaction (its row locked until it ends), or, when it is sealed
    already, its `Seal` (sealing is idempotent). The caller then writes the inventory
    (`write_inventory`), stores it under `inventory_key` and records it (`finish_seal`), in the same
    transaction: a failure on the way leaves the area as it was."""
    area = existing_area(session, area_uuid, for_update=True)
    if area.status is AreaStatus.SEALED:
        return _seal_of(area)
    if area.status in BEING_DELETED:
        raise ConflictError(f"upload area {area_uuid} is being deleted")
    _refuse_while_checksumming(session, area)
    transition_area(area, AreaStatus.SEALED)
    return area


@dataclass(frozen=True)
class Inventory:
    key: str
    sha256: str
    size: int
    files: int


def write_inventory(session: Session, area: UploadArea, out: IO[bytes]) -> Inventory:
    """Write the sealed area's inventory to `out` (canonical JSON, see the module); what the caller
    stores, where, and its sha256."""
    assert area.sealed_at is not None  # stamped by the transition to SEALED
    hasher = hashlib.sha256()
    size = count = 0

    def write(text: str) -> None:
        nonlocal size
        data = text.encode("utf-8")
        hasher.update(data)
        out.write(data)
        size += len(data)

    head = {"upload_area_id": area.uuid, "sealed_at": area.sealed_at.isoformat()}
    write(json.dumps(head, sort_keys=True, separators=(",", ":"))[:-1] + ',"files":[')
    for entry in inventory_files(session, area.id):
        write(("," if count else "") + json.dumps(entry, sort_keys=True, separators=(",", ":")))
        count += 1
    write("]}")
    return Inventory(inventory_key(area.uuid, area.sealed_at), hasher.hexdigest(), size, count)


def finish_seal(session: Session, area: UploadArea, inventory: Inventory, *, url: str) -> Seal:
    """Record the stored inventory on the area and queue `area_sealed` (`url`: where it is stored)."""
    assert area.sealed_at is not None
    area.inventory_key, area.inventory_sha256 = inventory.key, inventory.sha256
    notify_area_event(
        session,
        NotificationType.AREA_SEALED,
        {
            "upload_area_id": area.uuid,
            "sealed_at": area.sealed_at.isoformat(),
            "inventory": {
                "url": url,
                "sha256": inventory.sha256,
                "size": inventory.size,
                "files": inventory.files,
            },
        },
    )
    return _seal_of(area)


def _seal_of(area: UploadArea) -> Seal:
    assert area.sealed_at is not None
    assert area.inventory_key is not None
    assert area.inventory_sha256 is not None
    return Seal(area.uuid, area.sealed_at, area.inventory_key, area.inventory_sha256)


def _refuse_while_checksumming(session: Session, area: UploadArea) -> None:
    unsettled = select(FileVersion.name).where(
        FileVersion.area_id == area.id,
        FileVersion.current.is_(True),
        FileVersion.status == FileStatus.UPLOADED,
    )
    names = session.scalars(unsettled.order_by(FileVersion.name).limit(_NAMED + 1)).all()
    if not names:
        return
    total = session.scalar(select(func.count()).select_from(unsettled.subquery())) or 0
    shown = ", ".join(names[:_NAMED]) + (f" (and {total - _NAMED} more)" if total > _NAMED else "")
    raise ChecksummingError(
        f"upload area {area.uuid} cannot be sealed while {total} file(s) are still being checksummed: {shown}"
    )


def inventory_files(session: Session, area_id: int, *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every current file of the area as the inventory lists it, in name order, streamed."""
    other = aliased(FileVersion, name="other_version")
    replaced = (
        select(func.count(other.id))
        .where(
            other.area_id == FileVersion.area_id, other.name == FileVersion.name, other.id != FileVersion.id
        )
        .scalar_subquery()
    )

    def latest(column: Any) -> Any:
        return of_newest_validation_of_version(FileVersion.id, column)

    query = (
        select(
            FileVersion.name,
            FileVersion.size,
            FileVersion.content_type,
            FileVersion.checksums,
            replaced.label("versions_replaced"),
            latest(Validation.id).label("validation_id"),
            latest(Validation.status).label("validation_status"),
            latest(Validation.results["exit_code"].as_integer()).label("exit_code"),
        )
        .where(FileVersion.area_id == area_id, FileVersion.current.is_(True))
        .order_by(FileVersion.name)
        .execution_options(yield_per=page_size)
    )
    for row in session.execute(query):
        yield {
            "name": row.name,
            "size": row.size,
            "content_type": row.content_type,
            "checksums": row.checksums,
            "versions_replaced": row.versions_replaced,
            "validation": None
            if row.validation_id is None
            else {
                "validation_id": str(row.validation_id),
                "status": str(row.validation_status),
                "exit_code": row.exit_code,
            },
        }
