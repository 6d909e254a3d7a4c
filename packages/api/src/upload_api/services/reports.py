"""An area's report, streamed: every current file's size, checksums, state, newest validation and
notification state (`upload_common.domain.area_reports`), as CSV or NDJSON, a page at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from upload_api.context import ApiContext
from upload_common.domain.area_reports import REPORT_FIELDS, REPORT_PAGE_SIZE, report_page
from upload_common.domain.areas import existing_area
from upload_common.errors import InvalidInputError

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/x-ndjson"}


@dataclass(frozen=True)
class Report:
    media_type: str
    chunks: Iterator[bytes]  # one chunk per page of files; nothing is read before the first is asked for


def area_report(
    context: ApiContext, area_uuid: str, *, report_format: str, page_size: int = REPORT_PAGE_SIZE
) -> Report:
    """The area's report in `report_format` (`csv`: a header line, then one line per file; `json`:
    one JSON object per line, NDJSON). An unknown area is refused here, before anything streams."""
    if report_format not in MEDIA_TYPES:
        raise InvalidInputError(f"format must be one of {', '.join(MEDIA_TYPES)}")
    with context.sessions() as session:
        area_id = existing_area(session, area_uuid).id
    pages = _pages(context, area_id, page_size)
    chunks = _csv(pages) if report_format == "csv" else _ndjson(pages)
    return Report(media_type=MEDIA_TYPES[report_format], chunks=chunks)


def _pages(context: ApiContext, area_id: int, page_size: int) -> Iterator[list[dict[str, Any]]]:
    after: str | None = None
    while True:
        with context.sessions() as session:  # one short transaction per page: no snapshot held open
            page = report_page(session, area_id, after=after, limit=page_size)
        if page:
            yield page
        if len(page) < page_size:
            return
        after = page[-1]["name"]


def _csv(pages: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    yield buffer.getvalue().encode()
    for page in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(page)  # None is written as an empty field
        yield buffer.getvalue().encode()


def _ndjson(pages: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    for page in pages:
        yield "".join(json.dumps(row) + "\n" for row in page).encode()
