"""What the untrusted validator gets: an environment built from scratch (the harness's minimal base and
the caller's variables), and another user when the harness runs as root."""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from batch_validator.harness_support import (
    AREA,
    TEST_USER,
    CallbackServer,
    job_environment,
    run_harness,
    write_script,
)
from upload_batch_validator.harness import validate
from upload_batch_validator.isolation import (
    DEFAULT_PATH,
    ValidatorUser,
    validator_environment,
    validator_user,
)
from upload_batch_validator.settings import HarnessSettings
from upload_common.domain.validator_environment import pack_environment
from upload_common.errors import ConfigurationError

# What a job's harness may hold that the validator must never see (ECS and Batch set these on a job).
PRIVATE = {
    "UPLOAD_CALLBACK_TOKEN": "the-job-token",
    "AWS_ACCESS_KEY_ID": "AKIAHARNESS",
    "AWS_SECRET_ACCESS_KEY": "harness-secret",
    "AWS_SESSION_TOKEN": "harness-session",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/0b2b4f0e",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-token",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/var/run/secrets/token",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks/token",
    "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/job",
    "ECS_CONTAINER_METADATA_URI": "http://169.254.170.2/v3/abc",
    "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/abc",
}
# A validator that prints its environment, and its parent's (the harness's) as far as it can read it.
PRINT_ENVIRONMENTS = (
    "import json, os\n"
    "try:\n"
    "    with open(f'/proc/{os.getppid()}/environ', 'rb') as f:\n"
    "        parent = dict(i.decode().split('=', 1) for i in f.read().split(b'\\0') if i)\n"
    "except OSError:\n"
    "    parent = None\n"
    "print(json.dumps({'own': dict(os.environ), 'harness': parent}))\n"
)


def stored(root: Path, name: str, content: bytes) -> str:
    path = root / AREA / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return f"file://{quote(str(path))}"


# -- the decisions, as pure functions ------------------------------------------------------------------


def test_the_validator_runs_as_another_user_only_when_the_harness_is_root() -> None:
    nobody = pwd.getpwnam("nobody")
    as_nobody = ValidatorUser("nobody", nobody.pw_uid, nobody.pw_gid)

    assert validator_user("nobody", euid=1000) is None  # not root: no switch is possible
    assert validator_user("nobody", euid=0) == as_nobody
    assert validator_user(str(nobody.pw_uid), euid=0) == as_nobody
    assert validator_user("root", euid=0) is None  # root asked for: the harness's own user
    assert validator_user("0", euid=0) is None
    unnamed = next(uid for uid in range(54321, 60000) if not _has_entry(uid))
    assert validator_user(str(unnamed), euid=0) == ValidatorUser(str(unnamed), unnamed, unnamed)
    with pytest.raises(ConfigurationError, match="UPLOAD_VALIDATOR_USER: no user 'no-such-user'"):
        validator_user("no-such-user", euid=0)


def _has_entry(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def test_the_validators_environment_is_the_base_and_the_callers_variables_only(tmp_path: Path) -> None:
    harness = {**PRIVATE, "PATH": "/opt/bin:/usr/bin", "MALLOC_ARENA_MAX": "2", "LANG": "de_DE.UTF-8"}

    environment = validator_environment(
        {"SAMPLE_KIND": "paired"}, home=tmp_path / "home", tmp=tmp_path / "tmp", harness=harness
    )

    assert environment == {
        "PATH": "/opt/bin:/usr/bin",  # the image's or the job runner's, which no caller can set
        "MALLOC_ARENA_MAX": "2",
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmp_path / "tmp"),
        "SAMPLE_KIND": "paired",
    }
    bare = validator_environment({}, home=tmp_path, tmp=tmp_path, harness={})
    assert bare["PATH"] == DEFAULT_PATH


# -- the harness, as the job runs it -------------------------------------------------------------------


def test_a_validator_sees_only_the_base_and_the_callers_variables(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    env = job_environment(callback_server.callback_url(), staging_dir, {"SAMPLE_KIND": "paired"}, **PRIVATE)
    command = f"{sys.executable} -c {shlex.quote(PRINT_ENVIRONMENTS)}"

    done = run_harness("--validator", command, stored(store_root, "a.txt", b"x"), env=env)

    assert done.returncode == 0, done.stderr
    seen = json.loads(callback_server.final().body["payload"]["stdout"])
    own = seen["own"]
    assert set(own) == {"PATH", "LANG", "HOME", "TMPDIR", "SAMPLE_KIND"} | (
        {"MALLOC_ARENA_MAX"} if "MALLOC_ARENA_MAX" in env else set()
    )
    assert own["SAMPLE_KIND"] == "paired"
    assert own["PATH"] == env["PATH"]
    run_dir = Path(own["HOME"]).parent  # <staging>/validation-…/home, removed with the job
    assert run_dir.parent == staging_dir
    assert Path(own["TMPDIR"]) == run_dir / "tmp"
    assert list(staging_dir.iterdir()) == []
    # The harness's own environment holds the caller's variables only packed, never as variables.
    harness = seen["harness"]
    assert "SAMPLE_KIND" not in harness
    assert json.loads(harness["UPLOAD_VALIDATOR_ENVIRONMENT"]) == {"SAMPLE_KIND": "paired"}


def test_the_harness_never_sets_the_callers_variables_on_itself(store_root: Path, staging_dir: Path) -> None:
    [packed] = pack_environment({"SAMPLE_KIND": "paired"}).values()
    settings = HarnessSettings(
        staging_dir=staging_dir, validator_user=TEST_USER, validator_environment=packed
    )
    before = dict(os.environ)

    outcome = validate(
        [stored(store_root, "a.txt", b"x")],
        command=["sh", "-c", 'echo "$SAMPLE_KIND"', "validator"],
        timeout=60,
        settings=settings,
        reporter=None,
    )

    assert (outcome.status, outcome.results["stdout"]) == ("VALIDATED", "paired\n")
    assert dict(os.environ) == before


def test_a_refused_variable_that_reaches_the_harness_fails_the_validation_unrun(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path, tmp_path: Path
) -> None:
    # Defence in depth: a job whose packed variables were not checked (an older scheduler, a hand-made job).
    marker = tmp_path / "ran"
    env = job_environment(
        callback_server.callback_url(),
        staging_dir,
        UPLOAD_VALIDATOR_ENVIRONMENT=json.dumps({"PYTHONPATH": "/x", "LD_PRELOAD": "/y.so", "OK": "1"}),
    )

    done = run_harness("--validator", f"touch {marker}", stored(store_root, "a.txt", b"x"), env=env)

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["FAILED"]
    exception = callback_server.final().body["payload"]["exception"]
    assert "unsafe for a validator" in exception
    assert "LD_PRELOAD, PYTHONPATH" in exception
    assert not marker.exists()


# -- another user, for real (the validator image runs its harness as root) -----------------------------


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory others may traverse (pytest's own temp dirs are private to the test's user)."""
    path = Path(tempfile.mkdtemp(prefix="isolation-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


VALIDATOR_AS_ANOTHER_USER = """\
echo "uid $(id -u) gid $(id -g) groups $(id -G)"
for f in "$@"; do
  printf '%s ' "$(cat "$f")"; if [ -L "$f" ]; then echo linked; else echo copied; fi
done
if cat "/proc/$PPID/environ" >/dev/null 2>&1; then echo harness-environ-readable; else echo harness-environ-denied; fi
if kill -0 "$PPID" 2>/dev/null; then echo harness-signalled; else echo harness-not-signalled; fi
if echo more >> "$1" 2>/dev/null; then echo staged-writable; else echo staged-read-only; fi
if ls "$(dirname "$HOME")" >/dev/null 2>&1; then echo run-dir-listable; else echo run-dir-not-listable; fi
touch "$HOME/h" "$TMPDIR/t" && echo home-and-tmp-writable
echo "interfaces $(awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' /proc/self/net/dev | tr '\n' ' ')"
echo "cwd $(pwd)"
"""


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="switching the validator's user needs a harness that runs as root (as in its image)",
)
def test_a_root_harness_runs_the_validator_as_nobody_on_files_it_may_only_read(
    callback_server: CallbackServer, store_root: Path, open_dir: Path
) -> None:
    staging_dir = open_dir / "staging"
    staging_dir.mkdir(mode=0o755)
    validator = write_script(open_dir / "validator", VALIDATOR_AS_ANOTHER_USER)
    open_store = open_dir / "store"
    private = stored(store_root, "private.txt", b"from-a-private-store")  # under pytest's 0700 temp dir
    public = stored(open_store, "public.txt", b"from-an-open-store")
    for path in (open_store, open_store / AREA):
        path.chmod(0o755)
    (open_store / AREA / "public.txt").chmod(0o644)
    env = job_environment(callback_server.callback_url(), staging_dir, UPLOAD_VALIDATOR_USER="nobody")

    done = run_harness("--validator", str(validator), private, public, env=env)

    assert done.returncode == 0, done.stderr
    results = callback_server.final().body["payload"]
    assert results["status"] == "completed", results
    nobody = pwd.getpwnam("nobody")
    lines = results["stdout"].splitlines()
    home = lines[-1].removeprefix("cwd ")
    assert lines == [
        f"uid {nobody.pw_uid} gid {nobody.pw_gid} groups {nobody.pw_gid}",
        "from-a-private-store copied",  # it could not follow a link into a store others cannot read
        "from-an-open-store linked",
        "harness-environ-denied",
        "harness-not-signalled",
        "staged-read-only",
        "run-dir-listable",  # its group's: its home, its tmp and its files, nothing else
        "home-and-tmp-writable",
        "interfaces lo ",  # a network namespace of its own: no way out
        f"cwd {home}",
    ]
    assert Path(home).name == "home"
    assert Path(home).parent.parent == staging_dir
    assert list(staging_dir.iterdir()) == []
    assert (store_root / AREA / "private.txt").read_bytes() == b"from-a-private-store"


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="switching the validator's user needs a harness that runs as root (as in its image)",
)
def test_a_staging_dir_the_validators_user_cannot_reach_fails_with_the_reason(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    env = job_environment(callback_server.callback_url(), staging_dir, UPLOAD_VALIDATOR_USER="nobody")

    done = run_harness("--validator", "true", stored(store_root, "a.txt", b"x"), env=env)

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["FAILED"]
    assert (
        "the validator's user nobody cannot reach the staging directory"
        in (callback_server.final().body["payload"]["exception"])
    )
    assert list(staging_dir.iterdir()) == []


def test_the_validator_has_no_network_while_its_harness_reports(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    # The validator tries the very server its harness reports to.
    port = callback_server.url_base.rsplit(":", 1)[1]
    reach = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n"
        "    print('reached')\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n"
    )
    env = job_environment(callback_server.callback_url(), staging_dir)

    done = run_harness(
        "--validator", f"{sys.executable} -c {shlex.quote(reach)}", stored(store_root, "a.txt", b"x"), env=env
    )

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING", "VALIDATED"]  # the harness has the network
    assert callback_server.final().body["payload"]["stdout"] == "Network is unreachable\n"
