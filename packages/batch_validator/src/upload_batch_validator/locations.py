"""Where the files to validate live: `s3://bucket/<area>/<name>` or `file:///<root>/<area>/<name>`.

Names may contain `/`, spaces and any Unicode; they are percent-encoded once in the URL and decoded
exactly once here. An area is what the API accepts as one (`upload_common.area_ids`), seed-style ids
of letters and digits included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from upload_common.area_ids import AREA_ID
from upload_common.errors import InvalidInputError
from upload_common.storage.keys import validate_key

_CALLBACK_AREA = re.compile(r"/area/([^/]+)/update_validation/")


@dataclass(frozen=True)
class FileLocation:
    """One file to validate."""

    url: str
    scheme: str  # "s3" or "file"
    area: str
    name: str
    bucket: str | None = None  # s3 only
    path: Path | None = None  # file only: the stored file

    @property
    def key(self) -> str:
        """The object's key in the store."""
        return f"{self.area}/{self.name}"


def parse_locations(urls: list[str], *, area_hint: str | None = None) -> list[FileLocation]:
    """Parse every URL, in order; all must name files of one upload area."""
    locations = [parse_location(url, area_hint=area_hint) for url in urls]
    areas = {location.area for location in locations}
    if len(areas) > 1:
        raise InvalidInputError(f"the files belong to more than one upload area: {', '.join(sorted(areas))}")
    return locations


def parse_location(url: str, *, area_hint: str | None = None) -> FileLocation:
    """One URL; `area_hint` (the area of the callback URL) says where a file path's area starts."""
    location = _parse(url, area_hint)
    validate_key(location.key)  # no '..' or empty segments: a staged name must stay inside its directory
    return location


def _parse(url: str, area_hint: str | None) -> FileLocation:
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise InvalidInputError(f"{url!r}: a '?' or '#' in a name must be percent-encoded")
    try:
        path = unquote(parts.path, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{url!r}: the percent-encoded name is not UTF-8") from None
    if parts.scheme == "s3":
        area, _, name = path.lstrip("/").partition("/")
        if not parts.netloc or not AREA_ID.fullmatch(area) or not name:
            raise InvalidInputError(f"{url!r} is not s3://<bucket>/<area uuid>/<name>")
        return FileLocation(url=url, scheme="s3", area=area, name=name, bucket=parts.netloc)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidInputError(f"{url!r}: a file URL names a local path (file:///path)")
        segments = path.split("/")
        index = _area_index(segments, area_hint)
        if index is None or index == len(segments) - 1:
            raise InvalidInputError(f"{url!r} is not file:///<store root>/<area uuid>/<name>")
        return FileLocation(
            url=url,
            scheme="file",
            area=segments[index],
            name="/".join(segments[index + 1 :]),
            path=Path(path),
        )
    raise InvalidInputError(f"{url!r}: only s3:// and file:// URLs can be validated")


def area_from_callback_url(url: str | None) -> str | None:
    """The area uuid in `.../v1/area/<uuid>/update_validation/<id>`, if the URL has that shape."""
    match = _CALLBACK_AREA.search(urlsplit(url).path) if url else None
    return unquote(match.group(1)) if match else None


def _area_index(segments: list[str], area_hint: str | None) -> int | None:
    # The store root may itself hold directories shaped like area ids: the area the callback names wins.
    if area_hint and area_hint in segments:
        return segments.index(area_hint)
    return next((index for index, segment in enumerate(segments) if AREA_ID.fullmatch(segment)), None)
