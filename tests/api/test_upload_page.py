"""The submitter's upload page (issue 18): served with its own script and style and a strict
Content-Security-Policy, makes no external request, and ships inside the wheel."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from starlette.testclient import TestClient

from upload_api.app import create_app
from upload_api.context import ApiContext
from upload_api.handlers.page import content_security_policy
from upload_common.storage import S3ObjectStore

REPO = Path(__file__).resolve().parents[2]
ASSETS = ("upload-page.html", "upload-page.js", "upload-page.css")


def test_the_page_needs_no_authority_and_allows_only_its_own_script(client: TestClient) -> None:
    area = str(uuid.uuid4())

    page = client.get(f"/v2/areas/{area}/page")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "connect-src 'self';" in policy  # the local store: parts go to this API
    assert "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.text
    assert '<script src="/v2/page-assets/upload-page.js" defer></script>' in html
    assert "<script>" not in html  # nothing inline: the policy would refuse it
    # Every input has its label, and the status is announced.
    for input_id in re.findall(r'<input[^>]* id="([^"]+)"', html):
        assert f'<label for="{input_id}">' in html
    assert 'aria-live="polite"' in html
    assert '<button type="button" id="drop-zone"' in html  # keyboard-usable: it opens the file picker

    script = client.get("/v2/page-assets/upload-page.js")
    assert (script.status_code, script.headers["content-type"].split(";")[0]) == (200, "text/javascript")
    style = client.get("/v2/page-assets/upload-page.css")
    assert (style.status_code, style.headers["content-type"].split(";")[0]) == (200, "text/css")
    assert client.get("/v2/page-assets/other.js").status_code in (400, 404)
    assert client.get("/v2/areas/not-a-uuid/page").status_code == 400


def test_the_page_makes_no_external_request(client: TestClient) -> None:
    for name, path in [
        ("html", f"/v2/areas/{uuid.uuid4()}/page"),
        ("js", "/v2/page-assets/upload-page.js"),
        ("css", "/v2/page-assets/upload-page.css"),
    ]:
        text = client.get(path).text
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE), name
        assert "@import" not in text, name
        assert "url(" not in text, name


def test_on_s3_parts_may_go_to_the_store_s_origin(api_context: ApiContext) -> None:
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")  # never called
    context = dataclasses.replace(api_context, store=S3ObjectStore("upload-test", s3))

    policy = content_security_policy(context)

    assert "connect-src 'self' http://127.0.0.1:9;" in policy
    with create_app(context).test_client() as client:
        page = client.get(f"/v2/areas/{uuid.uuid4()}/page")
    assert page.headers["content-security-policy"] == policy


@pytest.mark.slow
def test_the_wheel_ships_the_page(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(REPO / "packages/api"),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("dcp_upload_api-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for asset in ASSETS:
            assert f"upload_api/page/{asset}" in names
            assert (
                archive.read(f"upload_api/page/{asset}")
                == (REPO / "packages/api/src/upload_api/page" / asset).read_bytes()
            )


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_text_colours_keep_a_contrast_of_4_5_to_1() -> None:
    css = (REPO / "packages/api/src/upload_api/page/upload-page.css").read_text()
    colour = dict(re.findall(r"--([a-z]+): (#[0-9a-f]{6});", css))
    white, hover = "#ffffff", "#dde7f7"
    assert f"background: {hover};" in css  # the drop zone while hovered or dragged over
    # (foreground, background) as the stylesheet pairs them.
    pairs = [
        (colour["text"], white),
        (colour["muted"], white),
        (colour["bad"], white),
        (colour["good"], white),
        (colour["accent"], colour["surface"]),  # the drop zone
        (colour["accent"], hover),  # the drop zone while hovered or dragged over
    ]
    for foreground, background in pairs:
        light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, (foreground, background)
