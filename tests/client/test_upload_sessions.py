"""`dcp-upload upload` against the embedded default (issue 17): the real API on 127.0.0.1 with the
local store and no credential issuer, so files go through upload sessions; the CLI reaches the API
through a counting proxy (`support.uploads`), parts included (their URLs name the host asked).

One 200 MiB upload is interrupted (SIGINT once the proxy has counted 100 MiB) and resumed, as the
installed console script; the other tests use small files with 5 MiB session parts
(`UPLOAD_SESSION_PART_SIZE_BYTES`) and run `main` in-process.
"""

from __future__ import annotations

import pytest

pytest.importorskip("upload_api", reason="the live API needs dcp-upload-api (installed in the main suite)")

import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support.api_helpers import drain
from support.checksums import reference_checksums
from support.live_api import API_KEY, live_context, serving
from support.scratch_database import scratch_database
from support.uploads import CountingProxy, counting_proxy, interrupt_then_resume, json_events, write_file
from upload_api.context import ApiContext
from upload_checksum.worker import handle_record
from upload_client import Client, ForbiddenError
from upload_client.cli import main
from upload_client.upload.files import first_pass
from upload_client.upload.sessions import SessionDestination
from upload_common.storage import LocalObjectStore

LOG = logging.getLogger(__name__)
MIB = 1024 * 1024
SMALL_PART = 5 * MIB


@dataclass
class Embedded:
    url: str  # the API itself
    context: ApiContext
    proxy: CountingProxy  # in front of the API: what the CLI talks to

    def area(self) -> str:
        area = str(uuid.uuid4())
        with Client(self.url, API_KEY) as api:
            api.create_area(area)
        return area

    def recorded(self, area: str, name: str) -> dict[str, str] | None:
        for body in drain(self.context.queue("checksum")):
            handle_record(self.context, body)
        with Client(self.url) as api:
            checksums = api.file_info(area, name)["checksums"]
        return dict(checksums) if checksums else None


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        yield url


def _embedded(database_url: str, tmp_path: Path, part_size: int | None) -> Iterator[Embedded]:
    context = live_context(database_url, LocalObjectStore(tmp_path / "storage"))
    if part_size is not None:
        context.settings = context.settings.model_copy(update={"session_part_size_bytes": part_size})
    with serving(context) as (host, port):
        url = f"http://{host}:{port}"
        with counting_proxy(url) as proxy:
            yield Embedded(url, context, proxy)


@pytest.fixture
def embedded(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Embedded]:
    for name in ("DCP_UPLOAD_API", "DCP_UPLOAD_API_KEY", "DCP_UPLOAD_LINK"):
        monkeypatch.delenv(name, raising=False)
    yield from _embedded(database_url, tmp_path, SMALL_PART)


def test_credentials_are_not_offered_so_three_files_go_through_sessions(
    embedded: Embedded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    area = embedded.area()
    with Client(embedded.url) as api, pytest.raises(ForbiddenError):
        api.credentials(area)  # what sends the CLI through the API
    contents = {"a.json": b'{"a": 1}', "reads/r1.fastq": os.urandom(12 * MIB), "empty.txt": b""}
    for name, data in contents.items():
        write_file(tmp_path / "run" / name, data)

    argv = ["upload", "--api", embedded.proxy.url, "--api-key", API_KEY, "--json", "--area", area]
    assert main([*argv, str(tmp_path / "run")]) == 0
    events = json_events(capsys.readouterr().out)
    starts = {e["name"]: e for e in events if e["event"] == "start"}
    assert starts["reads/r1.fastq"]["to_send"] == 12 * MIB
    parts = [e["number"] for e in events if e["event"] == "part" and e["name"] == "reads/r1.fastq"]
    assert sorted(parts) == [1, 2, 3]  # 5 + 5 + 2 MiB
    done = {e["name"]: e for e in events if e["event"] == "done"}
    assert set(done) == set(contents)
    for name, data in contents.items():
        assert done[name]["checksums"] == reference_checksums(data)
        assert embedded.recorded(area, name) == reference_checksums(data)
    assert events[-1]["event"] == "summary"
    assert (events[-1]["uploaded"], events[-1]["failed"]) == (3, 0)

    embedded.proxy.reset()
    argv = ["upload", "--api", embedded.proxy.url, "--area", area, str(tmp_path / "run")]
    assert main(argv) == 0  # nothing to send: no key needed
    out = capsys.readouterr().out.splitlines()
    assert "reads/r1.fastq: skipped (already in the area with the same size and checksums)" in out
    assert out[-1] == "0 uploaded, 3 skipped, 0 failed of 3 files; 0 B sent"
    assert embedded.proxy.sent < 10_000  # the listing only


def _interrupted_session(embedded: Embedded, area: str, path: Path, parts: list[int]) -> str:
    """What an interrupted run leaves: the client's own session with some parts sent."""
    with Client(embedded.url, API_KEY) as api:
        upload = SessionDestination(api, area, can_put=True).begin(first_pass(path, path.name, None))
        upload.prepare()
        for number in parts:
            upload.send(number, lambda count: None)
        assert upload.session is not None
        return upload.session["id"]


def test_a_corrupted_part_is_detected_and_sent_again(
    embedded: Embedded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    area = embedded.area()
    data = os.urandom(3 * SMALL_PART + MIB)
    path = write_file(tmp_path / "big.bin", data)
    session = _interrupted_session(embedded, area, path, [1, 2, 3])
    with Client(embedded.url, API_KEY) as api:  # part 2 replaced by other bytes of the same size
        other = bytearray(data[SMALL_PART : 2 * SMALL_PART])
        other[99] ^= 0xFF
        api.send_part(api.upload_part_url(area, session, 2), bytes(other), SMALL_PART)

    embedded.proxy.reset()
    assert (
        main(
            ["upload", "--api", embedded.proxy.url, "--api-key", API_KEY, "--json", "--area", area, str(path)]
        )
        == 0
    )
    events = json_events(capsys.readouterr().out)
    start = next(e for e in events if e["event"] == "start")
    assert "corrupted part 2 (its MD5 is not the file's): sending it again" in start["notes"]
    assert "resuming: 2 of 4 parts already there" in start["notes"]
    assert sorted(e["number"] for e in events if e["event"] == "part") == [2, 4]
    assert start["to_send"] == SMALL_PART + MIB
    assert embedded.proxy.sent < SMALL_PART + 2 * MIB
    assert embedded.recorded(area, "big.bin") == reference_checksums(data)


def test_a_file_changed_between_runs_aborts_the_old_session(
    embedded: Embedded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    area = embedded.area()
    path = write_file(tmp_path / "big.bin", os.urandom(2 * SMALL_PART + MIB))
    old = _interrupted_session(embedded, area, path, [1])
    changed = os.urandom(2 * SMALL_PART + MIB)
    path.write_bytes(changed)

    assert main(["upload", "--api", embedded.proxy.url, "--api-key", API_KEY, "--area", area, str(path)]) == 0
    out = capsys.readouterr().out
    assert "big.bin: aborted an earlier upload (the file changed since); starting again" in out
    with Client(embedded.url, API_KEY) as api:
        assert api.get_upload(area, old)["status"] == "ABORTED"
        assert api.list_uploads(area) == []
    assert embedded.recorded(area, "big.bin") == reference_checksums(changed)


def test_a_submitter_link_is_enough(
    embedded: Embedded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    area = embedded.area()
    with Client(embedded.url, API_KEY) as api:
        link = api.create_submitter_link(area)
    proxied = link["url"].replace(embedded.url, embedded.proxy.url)
    path = write_file(tmp_path / "sample.json", b'{"sample": 1}')
    assert main(["upload", "--link", proxied, str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 uploaded, 0 skipped, 0 failed of 1 files")
    assert embedded.recorded(area, "sample.json") == reference_checksums(b'{"sample": 1}')

    other = write_file(tmp_path / "other.json", b'{"other": 1}')
    assert main(["upload", "--link", proxied.replace("link=", "link=x"), str(other)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("dcp-upload: API error 401")
    assert link["token"] not in err


def test_usage_errors(embedded: Embedded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upload", "--api", embedded.url, str(tmp_path)]) == 2  # no --area nor --link
    assert main(["upload", "--api", embedded.url, "--area", str(uuid.uuid4()), str(tmp_path / "none")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["upload", "--link", "http://127.0.0.1:1/nowhere", str(tmp_path)]) == 2
    assert main(["upload", "--api", embedded.url, "--area", str(uuid.uuid4()), str(tmp_path)]) == 3
    assert "no such area" in capsys.readouterr().err


@pytest.fixture
def embedded_default_parts(database_url: str, tmp_path: Path) -> Iterator[Embedded]:
    yield from _embedded(database_url, tmp_path, None)


def test_a_200_mib_upload_interrupted_half_way_resumes_without_sending_it_again(
    embedded_default_parts: Embedded, tmp_path: Path
) -> None:
    embedded = embedded_default_parts
    area = embedded.area()
    data = os.urandom(200 * MIB)
    path = write_file(tmp_path / "big.bin", data)
    script = Path(sys.executable).with_name("dcp-upload")
    command = [
        str(script),
        "upload",
        "--api",
        embedded.proxy.url,
        "--area",
        area,
        "--parallel",
        "2",
        str(path),
    ]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DCP_UPLOAD_")}
    environment["DCP_UPLOAD_API_KEY"] = API_KEY  # from the environment: the command printed holds no key

    run = interrupt_then_resume(command, environment, embedded.proxy, interrupt_at=100 * MIB)
    assert f"To resume, run the same command again: {' '.join(['dcp-upload', *command[1:]])}" in (
        run.interrupted_output
    )
    assert "big.bin: resuming: 2 of 4 parts already there" in run.resumed_output
    LOG.info(
        "200 MiB: %d bytes sent before SIGINT, %d on resume", run.sent_before_interrupt, run.sent_on_resume
    )
    assert run.sent_on_resume < 0.6 * len(data), run
    assert embedded.recorded(area, "big.bin") == reference_checksums(data)


def test_a_file_whose_bytes_disagree_with_its_declared_checksums_ends_corrupt_and_status_fails(
    embedded: Embedded, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a corrupted part that slipped through would become: never recorded good."""
    area = embedded.area()
    data = os.urandom(SMALL_PART + 1000)
    declared = reference_checksums(data[:-1] + bytes([data[-1] ^ 1]))  # the bytes the client meant
    with Client(embedded.url, API_KEY) as api:
        session = api.create_upload(
            area, "x.bin", len(data), sha256=declared["sha256"], crc32c=declared["crc32c"]
        )
        for number, start in enumerate(range(0, len(data), session["part_size"]), start=1):
            piece = data[start : start + session["part_size"]]
            api.send_part(api.upload_part_url(area, session["id"], number), piece, len(piece))
        api.complete_upload(area, session["id"])
        embedded.recorded(area, "x.bin")  # the checksum worker compares them
        api.put_file(area, "good.json", b"{}", content_type='application/json; dcp-type="metadata/x"')
        embedded.recorded(area, "good.json")

    assert main(["status", "--api", embedded.url, "--area", area, "--json"]) == 1
    files = {f["name"]: f for f in json.loads(capsys.readouterr().out)["files"]}
    assert (files["x.bin"]["state"], files["x.bin"]["outcome"]) == ("CORRUPT", "bad")
    assert (files["good.json"]["state"], files["good.json"]["outcome"]) == ("CHECKSUMMED", "ok")
    assert main(["status", "--api", embedded.url, "--area", area]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "good.json\tCHECKSUMMED\tUNSCHEDULED\t\tok\tCHECKSUMMED",
        "x.bin\tCHECKSUMMED\tUNSCHEDULED\t\tbad\tCORRUPT",
    ]
