"""`dcp-upload` (issue 17) against the real API served on 127.0.0.1 (`support.live_api`): `main(argv)`
in-process, and once as the installed console script. Checksums complete through the real checksum
worker (`handle_record` on the API's own `db://` queue) from the injected sleep, so nothing waits.

Needs dcp-upload-api (the main suite); the `client` tox environment skips this module.
"""

from __future__ import annotations

import pytest

pytest.importorskip("upload_api", reason="the live API needs dcp-upload-api (installed in the main suite)")

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support.api_helpers import drain
from support.checksums import reference_checksums
from support.live_api import API_KEY, live_context, serving
from support.scratch_database import scratch_database
from upload_api.context import ApiContext
from upload_checksum.worker import handle_record
from upload_client import Client
from upload_client.cli import main
from upload_client.cli import status as status_command
from upload_common.checksums import checksum_object
from upload_common.domain.checksum_results import record_checksum_result
from upload_common.domain.checksum_runs import Claim, SeenObject, claim_checksum_run, stale_period
from upload_common.domain.state_machines import (
    CHECKSUM_TRANSITIONS,
    VALIDATION_TRANSITIONS,
    transition_validation,
)
from upload_common.domain.versions import lock_file
from upload_common.models import ChecksumRun, FileVersion, Validation
from upload_common.statuses import FINAL_CHECKSUM_STATUSES, FINAL_VALIDATION_STATUSES, ValidationStatus
from upload_common.storage import LocalObjectStore

JSON_TYPE = 'application/json; dcp-type="metadata/sample"'
IMAGE = "dcp-upload/validator-fastq"


@dataclass
class Live:
    url: str
    context: ApiContext

    def argv(self, *args: str) -> list[str]:
        return ["--api", self.url, "--api-key", API_KEY, *args]

    def checksum_queued(self) -> int:
        """Run the real checksum worker on every queued upload; how many it handled."""
        bodies = drain(self.context.queue("checksum"))
        for body in bodies:
            handle_record(self.context, body)
        return len(bodies)

    def schedule_checksum_job(self, area: str, name: str) -> Claim:
        """A file put straight into the store whose checksum run the worker handed to a job (SCHEDULED)."""
        key = f"{area}/{name}"
        self.context.store.put(key, io.BytesIO(name.encode()), content_type=JSON_TYPE)
        with self.context.sessions.begin() as session:
            lock_file(session, area, name)
            head = self.context.store.head(key)
            seen = SeenObject(area, name, head.etag, head, url=self.context.store.object_url(key))
            claim = claim_checksum_run(
                session, seen, for_job=True, stale_after=stale_period(self.context.settings)
            )
        assert isinstance(claim, Claim), claim
        return claim

    def finish_checksum_job(self, area: str, name: str, claim: Claim) -> None:
        """What the checksum job does: compute with the service's engine, then report the result."""
        key = f"{area}/{name}"
        checksums = checksum_object(self.context.store, key)
        with self.context.sessions.begin() as session:
            version = session.get(FileVersion, claim.version_id)
            run = session.get(ChecksumRun, claim.run_id)
            assert version is not None
            assert run is not None
            record_checksum_result(
                session, version, run, checksums.as_dict(), url=self.context.store.object_url(key)
            )


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    with scratch_database(postgres_url) as url:
        yield url


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    context = live_context(database_url, LocalObjectStore(tmp_path / "storage"))
    with serving(context) as (host, port):
        yield Live(f"http://{host}:{port}", context)


@pytest.fixture
def api(live: Live) -> Iterator[Client]:
    with Client(live.url, API_KEY) as client:
        yield client


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DCP_UPLOAD_API", raising=False)
    monkeypatch.delenv("DCP_UPLOAD_API_KEY", raising=False)


def _no_wait(seconds: float) -> None:
    raise AssertionError(f"the CLI waited {seconds} s")


def _area(api: Client, *names: str) -> str:
    area = str(uuid.uuid4())
    api.create_area(area)
    for name in names:
        api.put_file(area, name, name.encode(), content_type=JSON_TYPE)
    return area


def test_the_final_states_are_the_state_machines_dead_ends() -> None:
    assert {s for s, nexts in CHECKSUM_TRANSITIONS.items() if not nexts} == FINAL_CHECKSUM_STATUSES
    assert {s for s, nexts in VALIDATION_TRANSITIONS.items() if not nexts} == FINAL_VALIDATION_STATUSES


def test_area_commands(live: Live, api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    area = str(uuid.uuid4())
    assert main(live.argv("area", "create", area), sleep=_no_wait) == 0
    out = capsys.readouterr().out
    assert out.startswith("file://")
    assert out.strip().endswith(f"/{area}/")
    assert api.area_exists(area)

    assert main(live.argv("area", "lock", area, "--json"), sleep=_no_wait) == 0
    assert json.loads(capsys.readouterr().out) == {"area_uuid": area, "status": "locked"}
    assert main(live.argv("area", "create", area), sleep=_no_wait) == 0  # idempotent
    capsys.readouterr()
    locked = main(live.argv("validate", "--area", area, "--validator", IMAGE, "x.json"), sleep=_no_wait)
    assert locked == 3  # no such file (the area is locked, but exists)

    assert main(live.argv("area", "unlock", area), sleep=_no_wait) == 0
    assert capsys.readouterr().out == f"{area} unlocked\n"
    api.put_file(area, "a.json", b"{}", content_type=JSON_TYPE)  # accepted again

    assert main(live.argv("--json", "area", "delete", area), sleep=_no_wait) == 0
    assert json.loads(capsys.readouterr().out)["area_uuid"] == area
    assert main(live.argv("area", "create", area), sleep=_no_wait) == 3  # a deleted area is never revived
    err = capsys.readouterr().err
    assert err.startswith("dcp-upload: API error 409 Conflict")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_validate_sends_the_image_environment_and_files(
    live: Live, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    area = _area(api, "a.json", "b.json")
    argv = live.argv("validate", "--area", area, "--validator", IMAGE, "--env", "MODE=strict", "a.json")
    assert main(argv, sleep=_no_wait) == 0
    one = capsys.readouterr().out.strip()
    assert api.file_validation(area, "a.json")["validation_id"] == one

    argv = live.argv("validate", "--json", "--area", area, "--validator", IMAGE, "b.json", "a.json")
    assert main(argv, sleep=_no_wait) == 0
    several = json.loads(capsys.readouterr().out)["validation_id"]
    assert several != one
    assert api.file_validation(area, "b.json")["validation_id"] == several
    assert sum(api.area_validations(area).values()) == 2

    bad_env = live.argv("validate", "--area", area, "--validator", IMAGE, "--env", "MODE", "a.json")
    assert main(bad_env, sleep=_no_wait) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    refused = live.argv("validate", "--area", area, "--validator", IMAGE, "--env", "AWS_SECRET_ACCESS_KEY=x")
    assert main([*refused, "a.json"], sleep=_no_wait) == 3  # the service refuses the name: 400
    assert "API error 400" in capsys.readouterr().err


def test_status_waits_until_every_file_is_checksummed(
    live: Live, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    area = _area(api)
    names = ("a.json", "b.json", "c.json")
    claims = [live.schedule_checksum_job(area, name) for name in names]
    assert main(live.argv("status", "--json", "--area", area), sleep=_no_wait) == 0
    before = json.loads(capsys.readouterr().out)
    assert before["final"] is False, before
    assert {f["checksum_status"] for f in before["files"]} == {"SCHEDULED"}
    assert {f["outcome"] for f in before["files"]} == {"pending"}

    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the jobs report while the CLI "sleeps"
        polls.append(seconds)
        for name, claim in zip(names, claims, strict=True):
            live.finish_checksum_job(area, name, claim)

    argv = live.argv("status", "--area", area, "--wait", "--interval", "2", "--json")
    assert main(argv, sleep=sleep) == 0
    after = json.loads(capsys.readouterr().out)
    assert polls == [2.0]
    assert after["final"] is True
    assert after["bad"] is False
    assert [(f["name"], f["checksum_status"], f["validation_status"]) for f in after["files"]] == [
        (name, "CHECKSUMMED", "UNSCHEDULED") for name in ("a.json", "b.json", "c.json")
    ]

    assert main(live.argv("status", "--area", area), sleep=_no_wait) == 0  # plain: not a terminal
    assert capsys.readouterr().out.splitlines() == [
        f"{name}\tCHECKSUMMED\tUNSCHEDULED\t\tok\tCHECKSUMMED" for name in ("a.json", "b.json", "c.json")
    ]


def test_status_on_a_terminal_is_a_table(live: Live, api: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    area = _area(api, "a-long-name.json")
    live.checksum_queued()
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(live.argv("status", "--area", area), sleep=_no_wait) == 0
    lines = terminal.getvalue().splitlines()
    assert lines[0].split() == ["NAME", "CHECKSUM", "VALIDATION", "EXIT", "OUTCOME", "STATE"]
    assert lines[1].split() == ["a-long-name.json", "CHECKSUMMED", "UNSCHEDULED", "ok", "CHECKSUMMED"]
    assert lines[0].index("CHECKSUM") == lines[1].index("CHECKSUMMED")  # aligned columns


def test_status_exits_1_on_a_failed_validation_and_on_timeout(
    live: Live, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    area = _area(api, "a.json")
    live.checksum_queued()
    validation_id = api.validate_file(area, "a.json", IMAGE)["validation_id"]

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds  # nothing consumes the validation queue: it never ends

    argv = live.argv("status", "--area", area, "--wait", "--interval", "10", "--timeout", "30")
    assert main(argv, sleep=sleep, clock=lambda: now[0]) == 1
    captured = capsys.readouterr()
    assert now[0] == 30.0
    assert "not every file reached a final state in 30 s" in captured.err
    assert captured.out.split("\t")[-2] == "pending"

    with live.context.sessions() as session, session.begin():
        validation = session.get(Validation, uuid.UUID(validation_id))
        assert validation is not None
        transition_validation(validation, ValidationStatus.FAILED, reason="test: the job was lost")
    assert main(live.argv("status", "--area", area, "--wait", "--json"), sleep=_no_wait) == 1
    answer = json.loads(capsys.readouterr().out)
    assert (answer["final"], answer["bad"], answer["files"][0]["outcome"]) == (True, True, "bad")


def test_report_streams_one_row_per_file(
    live: Live,
    api: Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = ("a.json", "b.json", "dir/c.json")
    area = _area(api, *names)
    live.checksum_queued()
    monkeypatch.setattr(status_command, "PAGE_SIZE", 2)  # two pages

    output = tmp_path / "report.csv"
    assert main(live.argv("report", "--area", area, "--format", "csv", "--output", str(output))) == 0
    with output.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["name"] for row in rows] == list(names)
    for row, name in zip(rows, names, strict=True):
        expected = reference_checksums(name.encode())
        assert row["size"] == str(len(name))
        assert {k: row[k] for k in expected} == expected
        assert (row["checksum_status"], row["validation_status"]) == ("CHECKSUMMED", "UNSCHEDULED")

    assert main(live.argv("report", "--area", area, "--format", "json"), sleep=_no_wait) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in report] == list(names)
    assert report[0] == {
        "name": "a.json",
        "size": 6,
        **reference_checksums(b"a.json"),
        "checksum_status": "CHECKSUMMED",
        "validation_status": "UNSCHEDULED",
    }

    assert main(live.argv("report", "--area", area, "--format", "xml"), sleep=_no_wait) == 2
    unwritable = live.argv("report", "--area", area, "--format", "csv", "--output", str(tmp_path / "no/x"))
    assert main(unwritable, sleep=_no_wait) == 2


def test_errors_are_one_line_with_exit_codes(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    wrong_key = "not-the-key-" + uuid.uuid4().hex
    argv = ["--api", live.url, "--api-key", wrong_key, "area", "create", str(uuid.uuid4())]
    assert main(argv, sleep=_no_wait) == 3
    captured = capsys.readouterr()
    assert captured.err.startswith("dcp-upload: API error 401")
    assert wrong_key not in captured.err + captured.out
    assert captured.err.count("\n") == 1

    assert main(live.argv("status", "--area", str(uuid.uuid4())), sleep=_no_wait) == 3
    assert "API error 404 Not Found" in capsys.readouterr().err

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    waits: list[float] = []
    argv = ["--api", closed, "--api-key", API_KEY, "status", "--area", str(uuid.uuid4())]
    assert main(argv, sleep=waits.append) == 4
    err = capsys.readouterr().err
    assert err.startswith("dcp-upload: cannot reach the API")
    assert API_KEY not in err
    assert len(waits) == 2  # retried, without waiting for real

    assert main(["status", "--area", str(uuid.uuid4())], sleep=_no_wait) == 2
    assert "--api URL or $DCP_UPLOAD_API" in capsys.readouterr().err
    assert main(["--api", live.url, "area", "lock", str(uuid.uuid4())], sleep=_no_wait) == 2  # no key
    assert main(["area", "frobnicate", "x"], sleep=_no_wait) == 2
    assert main(["upload"], sleep=_no_wait) == 2  # no PATH


def test_the_console_script(live: Live, api: Client) -> None:
    script = Path(sys.executable).with_name("dcp-upload")
    assert script.exists(), "reinstall: pip install -e packages/client --no-deps"
    help_text = subprocess.run([script, "--help"], capture_output=True, text=True, check=True).stdout
    listed = re.findall(r"^ {4}(\w+) ", help_text, flags=re.MULTILINE)
    assert listed == ["upload", "area", "validate", "status", "report"]

    area = _area(api, "a.json")
    live.checksum_queued()
    environment = {**os.environ, "DCP_UPLOAD_API": live.url, "DCP_UPLOAD_API_KEY": API_KEY}
    result = subprocess.run(
        [script, "status", "--area", area, "--wait"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "a.json\tCHECKSUMMED\tUNSCHEDULED\t\tok\tCHECKSUMMED\n"
