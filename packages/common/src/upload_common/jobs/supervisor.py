"""`python -m upload_common.jobs.supervisor <job dir>`: run one local job detached, and record how it ended.

The job's environment comes as JSON on standard input (it holds secrets: no file, no argv). The
process started by the runner reads it and forks at once: the parent records the child's pid and exits
(so the runner can wait for it and leave no zombie behind); the child, in a session of its own, is the
supervisor. It runs the job's command with resource limits (inside bubblewrap when the spec says so),
kills the whole process tree on timeout or cancel, and writes the final status atomically. Only the
standard library is imported: this runs once per job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import FrameType

from upload_common.jobs.jobdir import PRIVATE_FILE, JobDir, now, start_time
from upload_common.jobs.sandbox import become_subreaper, bwrap_argv, kill_tree, limiter, reap_orphans

POLL_SECONDS = 0.05
_stop_requested: list[str] = []


def main(argv: list[str]) -> int:
    job = JobDir(Path(argv[1]))
    environment = json.loads(sys.stdin.buffer.read())
    child = os.fork()
    if child:
        job.write_supervisor_pid(child)
        os._exit(0)
    os.setsid()
    os.umask(0o077)  # the logs, and whatever the job writes, are the service user's alone
    _redirect_output(job)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        supervise(job, environment)
    except BaseException as exc:  # noqa: BLE001 - whatever happens, the job must end with a status
        traceback.print_exc()
        job.finish("FAILED", f"the job's supervisor failed: {type(exc).__name__}: {exc}", None)
    return 0


def supervise(job: JobDir, environment: dict[str, str]) -> None:
    """Run the job (with `environment`) to its end and record the outcome."""
    spec = job.read_spec()
    cancelled = job.cancel_reason()
    if cancelled is not None:
        job.finish("FAILED", f"cancelled: {cancelled}", None)
        return
    become_subreaper()
    timeout = int(spec["timeout_seconds"])
    cpu_seconds = timeout * max(1, int(spec["vcpus"])) + 1
    argv = list(spec["argv"])
    if spec["bwrap"]:
        argv = bwrap_argv(
            spec["bwrap"],
            argv,
            work=job.work,
            network=spec["network"],
            hidden=spec["hidden"],
            readable=spec.get("readable", []),
        )
    with job.stdout.open("wb") as stdout, job.stderr.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - the command comes from the operator's image map
            argv,
            cwd=job.work,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group, killed as one
            preexec_fn=limiter(int(spec["memory_mib"]), cpu_seconds),  # noqa: PLW1509 - single-threaded here
        )
    job.write_status(state="RUNNING", pid=process.pid, pid_start=start_time(process.pid), started_at=now())
    stopped = _wait(job, process, timeout)
    kill_tree(process)  # also whatever the job left running in the background
    reap_orphans()
    _record(job, process.returncode, stopped, timeout)


def _wait(job: JobDir, process: subprocess.Popen[bytes], timeout: int) -> str | None:
    """Wait for the command; return why it was stopped early ("timeout", "cancel: reason"), or None."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            process.wait(timeout=POLL_SECONDS)
            return None
        except subprocess.TimeoutExpired:
            pass
        reason = job.cancel_reason()
        if reason is None and _stop_requested:
            reason = _stop_requested[0]
        if reason is not None:
            return f"cancel:{reason}"
        if time.monotonic() >= deadline:
            return "timeout"


def _record(job: JobDir, returncode: int, stopped: str | None, timeout: int) -> None:
    if stopped == "timeout":
        job.finish("FAILED", f"timed out after {timeout} s; the job's process tree was killed", None)
    elif stopped is not None:
        job.finish("FAILED", f"cancelled: {stopped.removeprefix('cancel:')}", None)
    elif returncode == 0:
        job.finish("SUCCEEDED", None, 0)
    elif returncode < 0:
        job.finish("FAILED", _signal_reason(-returncode), None)
    else:
        detail = _last_line(job.stderr)
        reason = f"exited with code {returncode}" + (f": {detail}" if detail else "")
        job.finish("FAILED", reason, returncode)


def _signal_reason(number: int) -> str:
    name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
    if number == signal.SIGXCPU:
        return f"killed by {name}: CPU time limit reached"
    if number == signal.SIGKILL:
        return f"killed by {name} (out of memory, CPU hard limit, or killed from outside)"
    return f"killed by {name}"


def _last_line(path: Path, limit: int = 4096) -> str:
    """The last non-empty line of a log (read from its tail only), to say why a job failed."""
    try:
        with path.open("rb") as log:
            log.seek(max(0, path.stat().st_size - limit))
            lines = log.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip()[:500] if lines else ""


def _redirect_output(job: JobDir) -> None:
    log = os.open(job.supervisor_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    # Stopping the supervisor stops the job: nothing is left running unsupervised.
    _stop_requested.append(f"the supervisor received {signal.Signals(signum).name}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
