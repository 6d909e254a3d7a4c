"""Validation of the file names a caller sends (area ids: `upload_common.area_ids`).

A file name arrives percent-encoded in the URL path and is decoded here, exactly once. The decoded
name becomes the object key `<area uuid>/<name>` (`upload_common.domain.versions.object_key`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from upload_common.errors import InvalidNameError
from upload_common.models import MAX_NAME_BYTES

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def decode_filename(raw: str) -> str:
    """The file name from its percent-encoded path segment."""
    try:
        name = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise InvalidNameError("the file name is not valid UTF-8 once percent-decoded") from None
    return check_filename(name)


def check_filename(name: str) -> str:
    """Refuse names that are empty, too long, or would escape the area."""
    if not name:
        raise InvalidNameError("the file name is empty")
    if len(name.encode("utf-8", errors="surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidNameError(f"the file name is longer than {MAX_NAME_BYTES} bytes")
    if _CONTROL.search(name):
        raise InvalidNameError("the file name contains a control character")
    if name.startswith("/") or "\\" in name:
        raise InvalidNameError("the file name must not start with / or contain a backslash")
    if any(segment in ("", ".", "..") for segment in name.split("/")):
        raise InvalidNameError("the file name has an empty, '.' or '..' path segment")
    return name
