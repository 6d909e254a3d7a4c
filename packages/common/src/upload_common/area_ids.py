"""Upload area ids: the seed's form (8-4-4-4-12 letters and digits), anchored, case kept.

Ingest creates areas with uuid4s, but the seed accepted any letters and digits in that shape (its
functional tests use ids like `deadbeef-dead-dead-dead-<digits>`), so we accept the same. An id is
used verbatim in object keys and IAM policies; it can never carry `/`, `*`, `?` or `$`.
"""

from __future__ import annotations

import re

from upload_common.errors import InvalidInputError

AREA_ID = re.compile(r"^[A-Za-z0-9]{8}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{12}$")


def check_area_id(value: str) -> str:
    """`value` if it is an upload area id, else `InvalidInputError`."""
    if not isinstance(value, str) or not AREA_ID.fullmatch(value):
        raise InvalidInputError(f"not an upload area id: {value!r}")
    return value
