"""The local runner for real: limits, timeouts and cancels kill whole trees; the sandbox confines the job."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from upload_common.errors import JobNotFoundError, JobRefusedError, JobRunnerError
from upload_common.jobs import JobSpec, JobState, JobStatus
from upload_common.jobs.jobdir import JobDir
from upload_common.jobs.local import LocalJobRunner
from upload_common.jobs.sandbox import descendants, find_bwrap

PY = "python:local"
SH = "shell:local"
IMAGES = {PY: [sys.executable, "-c"], SH: ["sh", "-c"]}
needs_bwrap = pytest.mark.skipif(
    find_bwrap() is None, reason="bubblewrap (bwrap) is missing or cannot run here"
)


@pytest.fixture(params=[False, pytest.param(True, marks=needs_bwrap)], ids=["plain", "bwrap"])
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> LocalJobRunner:
    """The runner without the sandbox, and with it where bubblewrap works."""
    return LocalJobRunner(tmp_path / "jobs", IMAGES, sandbox=request.param)


@pytest.fixture
def sandboxed(tmp_path: Path) -> LocalJobRunner:
    if find_bwrap() is None:
        pytest.skip("bubblewrap (bwrap) is missing or cannot run here")
    return LocalJobRunner(tmp_path / "jobs", IMAGES, sandbox=True)


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def test_timeout_kills_the_whole_tree_including_a_grandchild_in_its_own_session(
    runner: LocalJobRunner,
) -> None:
    marker = _marker()
    job_id = runner.submit(
        JobSpec("t", SH, [f"setsid sleep {marker} & sleep {marker}; wait"], timeout_seconds=2)
    )
    _until(lambda: len(_processes_with(marker)) == 2)

    status = _final(runner, job_id)

    assert status.state is JobState.FAILED
    assert status.reason is not None
    assert "timed out after 2 s" in status.reason
    assert _processes_with(marker) == []


def test_cancel_kills_the_whole_tree(runner: LocalJobRunner) -> None:
    marker = _marker()
    job_id = runner.submit(JobSpec("c", SH, [f"setsid sleep {marker} & sleep {marker}; wait"]))
    _until(lambda: len(_processes_with(marker)) == 2)

    runner.cancel(job_id, "area deleted")

    assert runner.describe(job_id) == JobStatus(job_id, JobState.FAILED, "cancelled: area deleted", None)
    assert _processes_with(marker) == []


def test_memory_limit_stops_a_hog(runner: LocalJobRunner) -> None:
    job_id = runner.submit(JobSpec("m", PY, ["bytearray(1024 * 1024 * 1024)"], memory_mib=256))

    status = _final(runner, job_id)

    assert status.state is JobState.FAILED
    assert status.exit_code == 1
    assert status.reason == "exited with code 1: MemoryError"


def test_the_job_gets_its_environment_and_not_the_services(
    runner: LocalJobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPLOAD_SECRET_KEY", "not for jobs")
    script = "import os; print(os.environ.get('AREA'), os.environ.get('UPLOAD_SECRET_KEY'))"
    job_id = runner.submit(JobSpec("e", PY, [script], environment={"AREA": "a1"}))

    assert _final(runner, job_id).state is JobState.SUCCEEDED
    assert runner.logs(job_id)[0].read_text() == "a1 None\n"


def test_another_process_describes_and_cancels_a_job_that_outlives_its_submitter(
    runner: LocalJobRunner, tmp_path: Path
) -> None:
    marker = _marker()
    submitter = (
        "import sys; from pathlib import Path; from upload_common.jobs import JobSpec;"
        "from upload_common.jobs.local import LocalJobRunner;"
        f"r = LocalJobRunner(Path({str(runner.state_dir)!r}), {{'sh': ['sh', '-c']}},"
        f" sandbox={runner.sandboxed});"
        f"print(r.submit(JobSpec('x', 'sh', ['sleep {marker}'])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", submitter], capture_output=True, text=True, check=True, timeout=60
    )
    job_id = done.stdout.strip()

    _until(lambda: runner.describe(job_id).state is JobState.RUNNING)
    runner.cancel(job_id, "from elsewhere")

    assert runner.describe(job_id).reason == "cancelled: from elsewhere"
    assert _processes_with(marker) == []


def test_a_dead_supervisor_is_reported_and_its_orphan_cancelled(runner: LocalJobRunner) -> None:
    marker = _marker()
    job_id = runner.submit(JobSpec("d", SH, [f"sleep {marker}"]))
    _until(lambda: len(_processes_with(marker)) == 1)
    supervisor = JobDir(runner.state_dir / job_id).supervisor_pid()
    assert supervisor is not None
    os.kill(supervisor, signal.SIGKILL)
    _until(lambda: runner.describe(job_id).state is JobState.FAILED)

    assert runner.describe(job_id).reason == "the job's supervisor died without recording an outcome"
    assert runner.describe(job_id).interrupted  # lost with its machine: the reapers run it again
    if not runner.sandboxed:  # bwrap's --die-with-parent usually ends a sandboxed job with its supervisor
        assert len(_processes_with(marker)) == 1, "the job itself still runs, unsupervised"

    runner.cancel(job_id, "clean up")

    assert runner.describe(job_id).reason == (
        "the job's supervisor died without recording an outcome; then cancelled: clean up"
    )
    assert _processes_with(marker) == []


def test_an_unmapped_image_names_the_known_ones(runner: LocalJobRunner) -> None:
    with pytest.raises(
        JobRunnerError, match=r"no local command for image 'quay.io/x:1'; known images: python:local"
    ):
        runner.submit(JobSpec("u", "quay.io/x:1", []))


def test_job_ids_cannot_reach_outside_the_state_dir(runner: LocalJobRunner) -> None:
    with pytest.raises(JobNotFoundError):
        runner.describe("../../etc")


def test_an_images_digest_is_that_of_the_program_that_runs_and_its_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "validate-x"
    program.write_text('#!/bin/sh\necho "v1 $*"\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    images = {"a/path": [str(program)], "a/found": ["validate-x"], "a/strict": ["validate-x", "--strict"]}
    runner = LocalJobRunner(tmp_path / "jobs", images, sandbox=False)
    content = hashlib.sha256(program.read_bytes()).hexdigest().encode()

    digests = {image: runner.resolve_image(image).digest for image in images}

    assert digests["a/path"] == "sha256:" + hashlib.sha256(content).hexdigest()
    assert digests["a/found"] == digests["a/path"]  # found on the job's PATH: the same file
    assert digests["a/strict"] == "sha256:" + hashlib.sha256(content + b"\0--strict").hexdigest()
    resolved = runner.resolve_image("a/strict")
    job_id = runner.submit(JobSpec("d", resolved.reference, ["R1.fastq"]))
    assert _final(runner, job_id).state is JobState.SUCCEEDED
    assert runner.logs(job_id)[0].read_text() == "v1 --strict R1.fastq\n"  # that program ran
    program.write_text('#!/bin/sh\necho "v2 $*"\n')
    assert runner.resolve_image("a/strict").digest != digests["a/strict"]


def test_a_digest_in_the_image_must_be_its_commands(tmp_path: Path) -> None:
    runner = LocalJobRunner(tmp_path / "jobs", IMAGES, sandbox=False)
    digest = runner.resolve_image(SH).digest

    assert runner.resolve_image(f"{SH}@{digest}") == runner.resolve_image(SH)
    other = f"sha256:{'0' * 64}"
    with pytest.raises(JobRefusedError, match=f"asks for {other}; its local command is {digest}"):
        runner.resolve_image(f"{SH}@{other}")


def test_an_image_whose_program_is_missing_is_refused_before_it_runs(tmp_path: Path) -> None:
    runner = LocalJobRunner(tmp_path / "jobs", {"gone:1": ["no-such-program-4f1c"]}, sandbox=False)

    with pytest.raises(JobRefusedError, match="the command of image 'gone:1' cannot be read"):
        runner.resolve_image("gone:1")
    with pytest.raises(JobRefusedError, match=r"no local command for image 'quay\.io/x:1'"):
        runner.resolve_image("quay.io/x:1")


def test_sandboxed_job_has_no_network(sandboxed: LocalJobRunner, listener: int, tmp_path: Path) -> None:
    connect = (
        f"import socket; socket.create_connection(('127.0.0.1', {listener}), timeout=2); print('connected')"
    )
    plain = LocalJobRunner(tmp_path / "plain", IMAGES, sandbox=False)

    inside = _final(sandboxed, sandboxed.submit(JobSpec("n", PY, [connect])))
    outside = _final(plain, plain.submit(JobSpec("n", PY, [connect])))

    assert inside.state is JobState.FAILED
    assert inside.reason is not None
    assert "Error" in inside.reason  # ConnectionRefusedError / OSError: network is unreachable
    assert outside.state is JobState.SUCCEEDED  # the same job reaches the socket without the sandbox


def test_sandboxed_job_writes_only_its_work_dir_and_a_private_tmp(sandboxed: LocalJobRunner) -> None:
    # Outside /tmp on purpose: inside the sandbox /tmp is a fresh, private tmpfs.
    outside = Path("/var/tmp") / f"upload-job-{_marker()}"  # noqa: S108 - a unique name, removed after
    host_tmp_name = f"upload-job-{_marker()}"
    script = (
        "import pathlib\n"
        "pathlib.Path('result.json').write_text('{}')\n"
        f"pathlib.Path('/tmp/{host_tmp_name}').write_text('scratch')\n"
        "print(pathlib.Path('/etc/os-release').read_text() != '')\n"
        f"pathlib.Path({str(outside)!r}).write_text('escaped')\n"
    )
    try:
        job_id = sandboxed.submit(JobSpec("w", PY, [script]))
        status = _final(sandboxed, job_id)
        escaped = outside.exists()
    finally:
        outside.unlink(missing_ok=True)

    assert status.state is JobState.FAILED
    assert status.reason is not None
    assert "Read-only file system" in status.reason
    assert not escaped
    assert sandboxed.logs(job_id)[0].read_text() == "True\n"  # the rest of the filesystem is readable
    assert (JobDir(sandboxed.state_dir / job_id).work / "result.json").read_text() == "{}"
    assert not (Path("/tmp") / host_tmp_name).exists()  # noqa: S108 - the host's /tmp is the point


def test_sandbox_masks_hidden_paths(sandboxed: LocalJobRunner, tmp_path: Path) -> None:
    # Outside /tmp on purpose: the sandbox's private /tmp would hide a directory there anyway.
    service_var = Path("/var/tmp") / f"upload-var-{_marker()}"  # noqa: S108 - a unique name, removed after
    service_var.mkdir()
    (service_var / "secret_key").write_text("s3cr3t")
    masking = LocalJobRunner(tmp_path / "masking", IMAGES, sandbox=True, hidden=[service_var])
    command = [f"ls -A {service_var}"]
    try:
        masked = masking.submit(JobSpec("h", SH, command))
        visible = sandboxed.submit(JobSpec("h", SH, command))
        statuses = [_final(masking, masked).state, _final(sandboxed, visible).state]
    finally:
        (service_var / "secret_key").unlink()
        service_var.rmdir()

    assert statuses == [JobState.SUCCEEDED, JobState.SUCCEEDED]
    assert masking.logs(masked)[0].read_text() == ""
    assert sandboxed.logs(visible)[0].read_text() == "secret_key\n"


def _marker() -> str:
    # A unique sleep duration names the job's processes in the process table.
    return f"{300 + secrets.randbelow(10**6)}.{secrets.randbelow(10**6):06d}"


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if cmdline.startswith(f"sleep {marker}") and state != "Z":
            found.append(int(entry.name))
    return found


def _final(runner: LocalJobRunner, job_id: str) -> JobStatus:
    _until(lambda: runner.describe(job_id).state.final)
    return runner.describe(job_id)


def _until(condition: Callable[[], bool], limit: float = 20) -> None:
    # Only a guard against a hang: nothing here measures speed.
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_sandboxed_job_sees_no_other_jobs_state(tmp_path: Path) -> None:
    if find_bwrap() is None:
        pytest.skip("bubblewrap (bwrap) is missing or cannot run here")
    # Outside /tmp on purpose: the sandbox's private /tmp would hide a state dir there anyway.
    state_dir = Path("/var/tmp") / f"upload-jobs-{_marker()}"  # noqa: S108 - a unique name, removed after
    runner = LocalJobRunner(state_dir, IMAGES, sandbox=True)
    try:
        other = runner.submit(JobSpec("other", SH, ["true"], environment={"CALLBACK_TOKEN": "t0k3n"}))
        _final(runner, other)
        job_id = runner.submit(JobSpec("nosy", SH, [f"ls -A {state_dir}; ls -A {state_dir}/{other}"]))
        _final(runner, job_id)
        seen = runner.logs(job_id)[0].read_text().split()
        own = sorted(p.name for p in (state_dir / job_id).iterdir())
    finally:
        shutil.rmtree(state_dir)

    assert seen == [job_id]  # its own directory, which holds only the work dir's mount point
    assert "spec.json" in own


def test_a_jobs_secrets_reach_no_file_and_no_command_line(
    runner: LocalJobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, service_secret = f"tok-{secrets.token_hex(16)}", f"svc-{secrets.token_hex(16)}"
    monkeypatch.setenv("UPLOAD_SECRET_KEY", service_secret)  # the service's own secret
    digest = hashlib.sha256(token.encode()).hexdigest()  # the job proves it got the token by its digest
    script = (
        "import hashlib, os, pathlib, sys, time\n"
        "while not pathlib.Path('release').exists(): time.sleep(0.02)\n"
        f"sys.exit(hashlib.sha256(os.environ['UPLOAD_CALLBACK_TOKEN'].encode()).hexdigest() != {digest!r})\n"
    )
    job_id = runner.submit(JobSpec("s", PY, [script], environment={"UPLOAD_CALLBACK_TOKEN": token}))
    job = JobDir(runner.state_dir / job_id)
    _until(lambda: runner.describe(job_id).state is JobState.RUNNING)
    supervisor = job.supervisor_pid()
    assert supervisor is not None
    running = [supervisor, *descendants(supervisor)]
    command_lines = b"".join(_proc(pid, "cmdline") for pid in running)
    supervisor_environment = _proc(supervisor, "environ")
    files_while_running = _contents(job.path)
    (job.work / "release").touch(mode=0o600)

    assert _final(runner, job_id).state is JobState.SUCCEEDED  # the job did get its token
    for contents in (files_while_running, _contents(job.path)):
        assert token.encode() not in contents
    assert _modes(runner.state_dir) == {0o700: "dirs", 0o600: "files"}
    assert len(running) >= 2  # the supervisor and the job (and bwrap)
    assert token.encode() not in command_lines
    assert supervisor_environment  # it was read: the supervisor does not hold the service's secrets
    assert service_secret.encode() not in supervisor_environment


def test_start_up_makes_old_job_files_private_and_drops_their_environment(tmp_path: Path) -> None:
    # What earlier versions left: world-readable files, the environment (secrets) in spec.json, and a
    # half-written spec of a submitter that crashed (pid 4194305 is above Linux's highest pid).
    state_dir, token = tmp_path / "jobs", f"tok-{secrets.token_hex(16)}"
    job = state_dir / ("0" * 32)
    (job / "work").mkdir(parents=True)
    spec = {"name": "old", "argv": ["true"], "environment": {"UPLOAD_CALLBACK_TOKEN": token}}
    (job / "spec.json").write_text(json.dumps(spec))
    (job / ".spec.json.4194305.tmp").write_text(json.dumps(spec))
    (job / "status.json").write_text(json.dumps({"state": "SUCCEEDED", "exit_code": 0}))
    (job / "stdout.log").write_text("done\n")
    for path in (state_dir, job, job / "work", *job.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)

    runner = LocalJobRunner(state_dir, IMAGES, sandbox=False)

    assert token.encode() not in _contents(state_dir)
    assert json.loads((job / "spec.json").read_text()) == {"name": "old", "argv": ["true"]}
    assert _modes(state_dir) == {0o700: "dirs", 0o600: "files"}
    assert runner.describe(job.name) == JobStatus(job.name, JobState.SUCCEEDED, None, 0)


def _proc(pid: int, name: str) -> bytes:
    try:
        return (Path("/proc") / str(pid) / name).read_bytes()
    except OSError:
        return b""


def _contents(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


def _modes(root: Path) -> dict[int, str]:
    """The permission bits found under `root` (itself included), by kind."""
    found: dict[int, str] = {}
    for path in [root, *root.rglob("*")]:
        found[path.stat().st_mode & 0o777] = "dirs" if path.is_dir() else "files"
    return found
