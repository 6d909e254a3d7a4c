"""An area of 100,000 file rows lists page by page with the same number of queries for every page."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, event, select, text
from starlette.testclient import TestClient

from upload_api.context import ApiContext
from upload_common.models import UploadArea

FILES = 100_000
PAGE = 1000


@pytest.mark.slow
def test_hundred_thousand_files_page_by_page(
    client: TestClient, auth: dict[str, str], api_context: ApiContext, postgres_engine: Engine
) -> None:
    area_uuid = str(uuid.uuid4())
    client.post(f"/v1/area/{area_uuid}", headers=auth)
    with api_context.sessions.begin() as session:
        area_id = session.scalars(select(UploadArea.id).where(UploadArea.uuid == area_uuid)).one()
        # Two versions of every 10th file: the listing must show only the current one.
        session.execute(
            text(
                "INSERT INTO file (area_id, name, size, etag, status, origin, current, created_at, updated_at) "
                "SELECT :area, 'dir/file-' || lpad(i::text, 6, '0'), i, md5(i::text), "
                "'UPLOADED', 'store', i % 10 <> 0, now(), now() "
                "FROM generate_series(1, :n) AS i "
                "UNION ALL SELECT :area, 'dir/file-' || lpad(i::text, 6, '0'), i + 1, md5(i::text) || '-2', "
                "'UPLOADED', 'store', true, now(), now() FROM generate_series(10, :n, 10) AS i"
            ),
            {"area": area_id, "n": FILES},
        )
        session.execute(text("ANALYZE file"))

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(postgres_engine, "before_cursor_execute", count)
    queries_per_page: list[int] = []
    names: list[str] = []
    cursor = None
    try:
        while True:
            before = len(statements)
            params: dict[str, str | int] = {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
            body = client.get(f"/v1/area/{area_uuid}/files", params=params).json()
            queries_per_page.append(len(statements) - before)
            names.extend(info["name"] for info in body["files"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
    finally:
        event.remove(postgres_engine, "before_cursor_execute", count)
    assert len(names) == FILES
    assert names == sorted(names)
    assert len(set(queries_per_page)) == 1, queries_per_page
    assert queries_per_page[0] <= 4  # savepoint, area, page, release (the test binds sessions to a savepoint)
