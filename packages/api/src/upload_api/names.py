"""Validation of the file names a caller sends (area ids: `upload_common.area_ids`).

A file name arrives percent-encoded in the URL path and is decoded here, exactly once. The decoded
name becomes the object key `<area uuid>/<name>` (`upload_common.domain.versions.object_key`). A name
inside a JSON body is taken as it is, or else percent-decoded (`body_name_candidates`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from upload_common.domain.seals import SERVICE_PREFIX, is_service_name
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


def body_name_candidates(name: str) -> list[str]:
    """What a file name inside a JSON body (`files_info`, `validate`) may mean, in the order to try:
    the name as it is, then its percent-decoded form. The seed's `hca` client percent-encodes names in
    these bodies and the seed's validate endpoint looked the decoded name up; an exact name wins.

    Only valid names are candidates; `InvalidNameError` when neither form is one.
    """
    candidates: list[str] = []
    refused: InvalidNameError | None = None
    for candidate in (name, _percent_decoded(name)):
        if candidate is None or candidate in candidates:
            continue
        try:
            candidates.append(check_filename(candidate))
        except InvalidNameError as error:
            refused = refused or error
    if refused is not None and not candidates:
        raise refused
    return candidates


def _percent_decoded(name: str) -> str | None:
    try:
        return unquote(name, errors="strict")
    except UnicodeDecodeError:
        return None


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
    if is_service_name(name):
        raise InvalidNameError(
            f"names under {SERVICE_PREFIX} are the service's own (a sealed area's inventory)"
        )
    return name
