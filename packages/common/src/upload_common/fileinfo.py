"""The FileInfo document: what the API returns for a file and what `file_uploaded` notifies.

Field names are the seed's contract (`upload_area_id` carries the area *uuid*, as the seed did).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from upload_common.models import FileVersion
from upload_common.storage.base import ObjectInfo


def file_info(
    *,
    area_uuid: str,
    name: str,
    url: str,
    size: int,
    content_type: str | None,
    last_modified: datetime | None,
    checksums: dict[str, str] | None,
) -> dict[str, Any]:
    return {
        "upload_area_id": area_uuid,
        "name": name,
        "size": size,
        "content_type": content_type,
        "last_modified": last_modified.isoformat() if last_modified else None,
        "url": url,
        "checksums": dict(checksums) if checksums else None,
    }


def file_info_of_version(version: FileVersion, *, area_uuid: str, url: str) -> dict[str, Any]:
    """FileInfo of one recorded file version."""
    return file_info(
        area_uuid=area_uuid,
        name=version.name,
        url=url,
        size=version.size,
        content_type=version.content_type,
        last_modified=version.last_modified,
        checksums=version.checksums,
    )


def file_info_of_object(
    info: ObjectInfo, *, area_uuid: str, name: str, url: str, checksums: dict[str, str] | None
) -> dict[str, Any]:
    """FileInfo of the object as the store describes it now (checksums: those of its version, if known)."""
    return file_info(
        area_uuid=area_uuid,
        name=name,
        url=url,
        size=info.size,
        content_type=info.content_type,
        last_modified=info.last_modified,
        checksums=checksums,
    )
