"""The upload page in real headless Chromium (issue 18): a submitter link opens the page, three files
go up through the file input, the page is reloaded in the middle of the large one, choosing it again
resumes it (only the parts the store lacked are sent again), and every file shows CHECKSUMMED.

The whole embedded default runs as processes (as `make run`), behind a counting proxy on 127.0.0.1
(`proxy.CountingProxy`) that is the server side's record of every part PUT and holds the large file's
later parts until the page has been reloaded. Debian's `chromium` and `chromium-driver` drive it (.ci/run
installs them); the test skips only when they are absent. With UPLOAD_SCREENSHOT_DIR set, the final
page is saved there as upload-page.png (docs/images/upload-page.png comes from this).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from browser.proxy import CountingProxy
from integration.stack import Stack, wait_until

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MIB = 1024 * 1024
PART_SIZE = 5 * MIB


def _missing() -> str | None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return (
            f"{CHROMIUM} or {CHROMEDRIVER} is absent: apt-get install chromium chromium-driver (.ci/run does)"
        )
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (requirements-dev.txt)"
    return None


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    workdir = tmp_path / "stack"
    workdir.mkdir()
    stack = Stack(workdir, {"UPLOAD_SESSION_PART_SIZE_BYTES": str(PART_SIZE)})
    stack.migrate()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def proxy(stack: Stack) -> Iterator[CountingProxy]:
    with CountingProxy(stack.port) as running:
        yield running


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, headers={"Api-Key": stack.api_key}, timeout=60) as client:
        yield client


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    missing = _missing()
    if missing:
        pytest.skip(missing)
    from selenium import webdriver  # noqa: PLC0415 - only once it is known to be there
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # The machine's network is closed: without these Chromium keeps trying to reach Google's services.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1100,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _files(tmp_path: Path) -> dict[str, Path]:
    sizes = {"notes.txt": 1000, "sample R1.fastq": 2 * MIB + 17, "big.bin": 30 * MIB}
    folder = tmp_path / "files"
    folder.mkdir()
    for name, size in sizes.items():
        (folder / name).write_bytes(os.urandom(size))
    return {name: folder / name for name in sizes}


def _checksum_states(driver: Any) -> dict[str, str]:
    """The files table's checksum column by name, read in one go (the page replaces its rows as it
    polls, so elements found one by one could go stale in between)."""
    states: dict[str, str] = driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('#files-body tr'),"
        " (row) => [row.dataset.name, row.querySelector('td.checksum').textContent]));"
    )
    return states


def _page_report(driver: Any, stack: Stack) -> str:
    """What the page and the service said, for a failure's report."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    texts = {i: driver.find_element(By.ID, i).text for i in ("status", "error", "upload-list", "files-body")}
    console = "\n".join(str(entry.get("message")) for entry in driver.get_log("browser"))
    return f"page: {texts}\nconsole:\n{console}\nservice log (end):\n{stack.output()[-4000:]}"


def test_upload_three_files_reload_in_the_middle_and_resume(
    stack: Stack, proxy: CountingProxy, api: httpx.Client, browser: Any, tmp_path: Path
) -> None:
    try:
        _upload_reload_resume(stack, proxy, api, browser, tmp_path)
    except Exception as exc:
        exc.add_note(_page_report(browser, stack))
        raise


def _upload_reload_resume(
    stack: Stack, proxy: CountingProxy, api: httpx.Client, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    area = str(uuid.uuid4())
    files = _files(tmp_path)
    assert api.post(f"/v1/area/{area}", json={}).status_code == 201
    link = api.post(f"/v2/areas/{area}/submitter-links").json()
    # The page is opened through the proxy: the same URL, on the proxy's origin.
    page_url = link["url"].replace(stack.url, proxy.url)
    assert page_url.startswith(f"{proxy.url}/v2/areas/{area}/page#link=")

    def sessions() -> list[dict[str, Any]]:
        uploads: list[dict[str, Any]] = api.get(f"/v2/areas/{area}/uploads").json()["uploads"]
        return uploads

    def big_session() -> dict[str, Any] | None:
        return next((s for s in sessions() if s["name"] == "big.bin"), None)

    wait = WebDriverWait(browser, 120)
    browser.get(page_url)
    wait.until(lambda d: "Ready" in d.find_element(By.ID, "status").text)

    # Parts 1 and 2 of the large file reach the store; 3..6 are held until the page has gone.
    proxy.hold_parts_above(2)
    chooser = browser.find_element(By.ID, "file-input")
    chooser.send_keys("\n".join(str(files[name]) for name in ("notes.txt", "sample R1.fastq", "big.bin")))
    wait_until(
        lambda: (s := big_session()) is not None and len(s["parts"]) >= 2,
        timeout=120,
        what="two parts of big.bin received",
    )
    before = big_session()
    assert before is not None
    received_before = {part["number"] for part in before["parts"]}
    assert received_before == {1, 2}
    assert before["part_count"] == 6

    browser.refresh()
    wait.until(lambda d: "big.bin" in d.find_element(By.ID, "incomplete-list").text)
    assert "choose the file again to resume" in browser.find_element(By.ID, "incomplete-list").text
    proxy.release()
    reloaded_at = len(proxy.puts())

    browser.find_element(By.ID, "file-input").send_keys(str(files["big.bin"]))
    wait.until(lambda d: _checksum_states(d) == dict.fromkeys(files, "CHECKSUMMED"))

    # The resume sent only what the store lacked: parts 1 and 2 went up once, before the reload.
    sent_after = [p for p in proxy.puts()[reloaded_at:] if p.session == before["id"]]
    assert sorted(p.number for p in sent_after) == [3, 4, 5, 6]
    assert all(p.status == 200 for p in sent_after)
    first_two = [p for p in proxy.puts() if p.session == before["id"] and p.number in received_before]
    assert sorted(p.number for p in first_two) == [1, 2]  # each once, and before the reload
    assert all(p in proxy.puts()[:reloaded_at] for p in first_two)
    row = browser.find_element(By.CSS_SELECTOR, '#upload-list li[data-name="big.bin"]')
    assert row.find_element(By.TAG_NAME, "progress").get_attribute("aria-label") == "Upload of big.bin"
    resumed = row.text
    assert "Uploaded (resumed); CHECKSUMMED" in resumed
    assert sessions() == []  # none left OPEN

    listing = {f["name"]: f for f in api.get(f"/v1/area/{area}/files").json()["files"]}
    assert {name: listing[name]["size"] for name in files} == {
        name: path.stat().st_size for name, path in files.items()
    }

    screenshots = os.environ.get("UPLOAD_SCREENSHOT_DIR")
    if screenshots:
        target = Path(screenshots)
        target.mkdir(parents=True, exist_ok=True)
        shot = tmp_path / "upload-page.png"
        assert browser.save_screenshot(str(shot))
        shutil.copyfile(shot, target / "upload-page.png")

    # Locking the area stops the link at once; the page shows the service's reason.
    assert api.post(f"/v1/area/{area}/lock").status_code == 204
    browser.find_element(By.ID, "file-input").send_keys(str(files["notes.txt"]))
    wait.until(lambda d: "is locked" in d.find_element(By.ID, "error").text)
    assert browser.find_element(By.ID, "error").get_attribute("role") == "alert"
