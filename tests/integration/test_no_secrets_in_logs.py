"""No secret in a log line, an error message, a command line, a file or a database row: the whole embedded
stack runs a realistic flow with known secrets (Api-Key, notification signing secret, callback-token
secret, the database password), then its whole output, every file under its `var/`, every row of its
database and every command line seen while it ran are searched for each secret, in its obvious
encodings, and for the callback tokens the jobs were given (read from the jobs' own environment)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from integration.stack import Stack, wait_until
from support.ingest_server import FakeIngest
from upload_common.db import make_engine
from upload_common.models import Base

pytestmark = pytest.mark.slow

HELD_IMAGE = "test/held-validator"
# Runs in the job's work directory until the test drops a `release` file there: the harness (which holds
# the job's callback token) is then certainly alive when the test looks at the processes.
HELD_VALIDATOR = "import pathlib, time\nwhile not pathlib.Path('release').exists(): time.sleep(0.05)\n"
HELD_COMMAND = f"{sys.executable} -c {shlex.quote(HELD_VALIDATOR)}"
# What the embedded default generates when no secret is set (the database is SQLite: no password).
GENERATED_SECRETS = ("api_key", "secret_key", "ingest_secret")
FASTQ = b"@r1\nACGTN\n+\nIIIII\n"
MIB = 1024 * 1024


class ProcessWatcher:
    """Polls every process (local jobs are detached: not below the stack's): each command line seen, and
    each job's callback token by the id of the validation or checksum run it reports on, read from the
    job's environment."""

    def __init__(self) -> None:
        self.command_lines: set[bytes] = set()
        self.tokens: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-watcher", daemon=True)

    def __enter__(self) -> ProcessWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for pid in (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()):
                self.command_lines.add(_read(pid, "cmdline"))
                environment = dict(
                    variable.decode(errors="replace").partition("=")[::2]
                    for variable in _read(pid, "environ").split(b"\0")
                )
                record = environment.get("UPLOAD_VALIDATION_ID") or environment.get("UPLOAD_CHECKSUM_ID")
                if record and environment.get("UPLOAD_CALLBACK_TOKEN"):
                    self.tokens[record] = environment["UPLOAD_CALLBACK_TOKEN"]


def _read(pid: int, name: str) -> bytes:
    try:
        return (Path("/proc") / str(pid) / name).read_bytes()
    except OSError:  # gone already
        return b""


def forms(secret: str) -> set[bytes]:
    """The secret as it could show up: raw, percent-encoded, JSON-escaped, base64, hex; for a
    `whsec_` secret also its base64 part and the key bytes themselves."""
    raw = secret.encode()
    found = {raw, quote(secret, safe="").encode(), json.dumps(secret)[1:-1].encode(), raw.hex().encode()}
    found |= {base64.b64encode(raw), base64.urlsafe_b64encode(raw)}
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret.removeprefix("whsec_"))
        found |= {
            secret.removeprefix("whsec_").encode(),
            key,
            key.hex().encode(),
            base64.urlsafe_b64encode(key),
        }
    return found | {form.rstrip(b"=") for form in found}


@pytest.fixture
def database(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A database of its own on the test PostgreSQL, reached as a role with a password (the server
    trusts local connections, but the password travels in the URL like any real one)."""
    name, password = f"leak_{secrets.token_hex(6)}", f"pw/+{secrets.token_hex(12)}"
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'"))
            connection.execute(text(f"CREATE DATABASE {name} OWNER {name}"))
    except Exception as exc:  # noqa: BLE001 - an existing server (UPLOAD_TEST_DATABASE_URL) may refuse
        admin.dispose()
        pytest.skip(f"cannot create a database and a role on the test server: {exc}")
    url = make_url(postgres_url).set(database=name)
    user_url = url.set(username=name, password=password).render_as_string(hide_password=False)
    try:
        yield user_url, password
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            connection.execute(text(f"DROP ROLE IF EXISTS {name}"))
        admin.dispose()


@pytest.mark.parametrize("configured", [True, False], ids=["configured", "generated"])
def test_no_secret_reaches_a_log_a_file_a_row_or_a_command_line(
    tmp_path: Path, request: pytest.FixtureRequest, configured: bool
) -> None:
    """`configured`: every secret set, PostgreSQL with a password. `generated`: none set, the embedded
    default generates them under `var/` (those files are the only place they may be)."""
    environment = {"UPLOAD_VALIDATORS": json.dumps({HELD_IMAGE: HELD_COMMAND})}
    named: dict[str, str] = {}
    if configured:
        database_url, named["the database password"] = request.getfixturevalue("database")
        named["the Api-Key"] = f"key-{secrets.token_urlsafe(24)}"
        named["UPLOAD_SECRET_KEY"] = f"cb-{secrets.token_urlsafe(24)}"
        named["the signing secret"] = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        environment |= {
            "UPLOAD_API_KEYS": named["the Api-Key"],
            "UPLOAD_SECRET_KEY": named["UPLOAD_SECRET_KEY"],
            "UPLOAD_DATABASE_URL": database_url,
        }
    with FakeIngest(secret=named.get("the signing secret")) as ingest:
        stack = Stack(tmp_path, ingest.environment() | environment)
        stack.migrate()
        stack.start()
        try:
            with ProcessWatcher() as watcher:
                _drive(stack, ingest, watcher)
        finally:
            stack.stop()

    var = tmp_path / "var"
    if not configured:
        named = {f"var/{name}": (var / name).read_text().strip() for name in GENERATED_SECRETS}
    assert watcher.tokens, "no job's callback token was seen: the search below would prove nothing"
    named |= {f"the callback token of {record}": token for record, token in watcher.tokens.items()}
    found = {
        "the stack's output": stack.log.read_bytes(),
        "a command line": b"\n".join(watcher.command_lines),
        **{
            str(path.relative_to(tmp_path)): path.read_bytes()
            for path in sorted(var.rglob("*"))
            if path.is_file() and path.relative_to(var).as_posix() not in GENERATED_SECRETS
        },
    }
    if configured:  # SQLite's rows are in var/'s files already
        found["the database's rows"] = _rows(database_url)
    leaks = [
        f"{name} in {where}"
        for name, secret in named.items()
        for where, contents in found.items()
        if any(form in contents for form in forms(secret))
    ]
    assert leaks == []


def _drive(stack: Stack, ingest: FakeIngest, watcher: ProcessWatcher) -> None:
    """Create an area, upload (through the API and straight into the store), validate (one validation
    held until its harness was seen), refused requests and callbacks, notifications that fail then
    pass, deletion."""
    area = str(uuid.uuid4())
    ingest.fail_next(2, status=503)  # the dispatcher retries: its error path logs too
    with stack.client() as api:
        assert api.post(f"/v1/area/{area}").status_code == 201
        for name in ("a.fastq", "b.fastq"):
            put = api.put(
                f"/v1/area/{area}/{name}",
                content=FASTQ,
                headers={"Content-Type": "application/octet-stream; dcp-type=data"},
            )
            assert put.status_code == 201, put.text
        direct = stack.workdir / "var" / "storage" / area / "c.bin"  # as a submitter's own tool writes it
        direct.write_bytes(os.urandom(MIB))
        assert api.post(f"/v1/area/{area}/c.bin").status_code == 202

        held = api.put(f"/v1/area/{area}/a.fastq/validate", json={"validator_image": HELD_IMAGE})
        fastq = api.put(
            f"/v1/area/{area}/b.fastq/validate", json={"validator_image": "dcp-upload/validator-fastq"}
        )
        assert (held.status_code, fastq.status_code) == (200, 200), held.text + fastq.text
        held_id, fastq_id = held.json()["validation_id"], fastq.json()["validation_id"]
        wait_until(lambda: held_id in watcher.tokens, timeout=90, what="the held validation's harness")
        token = watcher.tokens[held_id]

        # Refused: a wrong Api-Key (the real one plus a letter), a wrong and a misused callback token,
        # a malformed request.
        url = stack.url
        wrong_key = {"Api-Key": stack.api_key + "x"}
        assert httpx.post(f"{url}/v1/area/{uuid.uuid4()}", headers=wrong_key).status_code == 401
        for validation_id, presented in ((held_id, token + "x"), (fastq_id, token)):
            callback = httpx.post(
                f"{url}/v1/area/{area}/update_validation/{validation_id}",
                json={"status": "VALIDATED"},
                headers={"Authorization": f"Bearer {presented}"},
            )
            assert callback.status_code in (401, 403), callback.text
        bad = api.put(f"/v1/area/{area}/validate", json={"validator_image": HELD_IMAGE, "files": "a.fastq"})
        assert bad.status_code == 400

        for work in (stack.workdir / "var" / "jobs").glob("*/work"):
            (work / "release").touch(mode=0o600)

        def settled() -> bool:
            statuses = [
                api.get(f"/v1/area/{area}/{name}/validate").json()["validation_status"]
                for name in ("a.fastq", "b.fastq")
            ]
            checksummed = api.get(f"/v1/area/{area}/checksums").json().get("CHECKSUMMED") == 3
            return checksummed and all(status in ("VALIDATED", "FAILED") for status in statuses)

        wait_until(settled, timeout=120, what="the checksum job and both validations")
        ingest.wait_for(5, timeout=90)  # 3 uploads, 2 validations, after the 2 refusals

        assert api.delete(f"/v1/area/{area}").status_code == 202
        wait_until(lambda: api.head(f"/v1/area/{area}").status_code == 404, what="deletion")


def _rows(database_url: str) -> bytes:
    """Every row of every table of the service, as text."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return "\n".join(
                repr(tuple(row))
                for table in Base.metadata.sorted_tables
                for row in connection.execute(table.select())
            ).encode()
    finally:
        engine.dispose()
