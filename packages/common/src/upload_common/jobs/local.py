"""The local job runner: each job is a detached, supervised subprocess whose state lives in files.

The image name maps to a local command (the job's command is appended to it), and an image's digest
is that of its command (`command_digest`). Any process that sees the state directory can describe or
cancel a job, and a job outlives the process that submitted it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from upload_common.domain.images import DIGEST
from upload_common.errors import JobNotFoundError, JobRefusedError, JobRunnerError
from upload_common.jobs.base import JobRunner, JobSpec, JobState, JobStatus, ResolvedImage
from upload_common.jobs.jobdir import FINAL_STATES, PRIVATE_DIR, JobDir, now, process_alive, start_time
from upload_common.jobs.sandbox import descendants, find_bwrap, processes_mentioning

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
CANCEL_WAIT_SECONDS = 10.0
SUPERVISOR_DIED = "the job's supervisor died without recording an outcome"
_LAUNCH_TIMEOUT = 60


class LocalJobRunner(JobRunner):
    """Runs jobs on this machine under `state_dir`.

    `image_commands` maps an image name to the command prefix that stands in for it. `sandbox`: None
    uses bubblewrap when it works here (else warns and runs with resource limits only), True requires
    it, False never uses it. `network` lets sandboxed jobs reach the network; `hidden` paths are
    masked (empty) inside the sandbox, and so is `state_dir` except the job's own work directory;
    `readable` paths stay visible (read-only) even where the sandbox would cover them (its private
    /tmp), e.g. the local object store that validators read.
    """

    def __init__(
        self,
        state_dir: Path,
        image_commands: Mapping[str, Sequence[str]],
        *,
        sandbox: bool | None = None,
        network: bool = False,
        hidden: Sequence[Path] = (),
        readable: Sequence[Path] = (),
    ) -> None:
        self.state_dir = state_dir
        # The Python environment the jobs' commands come from (its prefixes and every import path,
        # editable installs' source trees included) stays visible even where the sandbox's private
        # /tmp would cover it (a checkout under /tmp, as CI may use).
        environment = [
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            *(p for p in sys.path if p and Path(p).is_dir()),
        ]
        self.readable = list(dict.fromkeys([*(str(path) for path in readable), *environment]))
        self.image_commands = {image: list(prefix) for image, prefix in image_commands.items()}
        self.network = network
        # Jobs never see the runner's state (other jobs' specs, environments, logs): only their work dir.
        self.hidden = [str(path) for path in (*hidden, state_dir)]
        self._secure_state_dir()
        self.bwrap = None if sandbox is False else find_bwrap()
        if sandbox and self.bwrap is None:
            raise JobRunnerError(
                "a sandbox was required but bubblewrap (bwrap) is missing or cannot run here"
            )
        if self.bwrap is None and sandbox is None:
            log.warning(
                "bubblewrap (bwrap) is not available: local jobs run as plain subprocesses with "
                "resource limits, without a sandbox (they can use the network and write files)"
            )

    @property
    def sandboxed(self) -> bool:
        return self.bwrap is not None

    def resolve_image(self, image: str) -> ResolvedImage:
        """The image's local command, pinned by `command_digest`; a digest in `image` must be that one."""
        name, at, pinned = image.rpartition("@")
        if not (at and DIGEST.fullmatch(pinned)):
            name, pinned = image, ""
        try:
            digest = command_digest(self._prefix(name), _job_search_path())
        except OSError as exc:
            raise JobRefusedError(f"the command of image {name!r} cannot be read: {exc}") from None
        if pinned and pinned != digest:
            raise JobRefusedError(f"image {image!r} asks for {pinned}; its local command is {digest}")
        return ResolvedImage(name, digest)

    def submit(self, spec: JobSpec) -> str:
        prefix = self._prefix(spec.image)
        job = JobDir(self.state_dir / uuid.uuid4().hex)
        try:
            job.create()
            job.write_spec(self._spec_record(spec, [*prefix, *spec.command]))
            job.write_status(state="SUBMITTED", name=spec.name, submitted_at=now())
            # The environment (a callback token, AWS keys) goes through a pipe: never on disk, nor in argv.
            launcher = subprocess.run(  # noqa: S603 - our own module, by the current interpreter
                [sys.executable, "-m", "upload_common.jobs.supervisor", str(job.path)],
                input=json.dumps(self._environment(spec, job)).encode(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=_supervisor_environment(),
                start_new_session=True,
                timeout=_LAUNCH_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise JobRunnerError(f"could not start local job {spec.name!r}: {exc}") from None
        if launcher.returncode != 0:
            detail = launcher.stderr.decode(errors="replace").strip()[-500:]
            raise JobRunnerError(f"could not start local job {spec.name!r}: {detail}")
        return job.job_id

    def describe(self, job_id: str) -> JobStatus:
        job = self._job(job_id)
        status = self._read_status(job)
        state = JobState(status["state"])
        if not state.final and not self._supervised(job):
            # Re-read: the supervisor may have finished between the two reads.
            status = self._read_status(job)
            state = JobState(status["state"])
            if not state.final:
                return JobStatus(job_id, JobState.FAILED, SUPERVISOR_DIED, interrupted=True)
        return JobStatus(job_id, state, status.get("reason"), status.get("exit_code"))

    def cancel(self, job_id: str, reason: str = "cancelled") -> None:
        job = self._job(job_id)
        if self._read_status(job)["state"] in FINAL_STATES:
            return
        if not self._supervised(job):
            self._stop_orphan(job, reason)
            return
        try:
            job.request_cancel(reason)
        except OSError as exc:
            raise JobRunnerError(f"could not cancel local job {job_id}: {exc}") from None
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while time.monotonic() < deadline:
            if self._read_status(job)["state"] in FINAL_STATES:
                return
            if not self._supervised(job):
                self._stop_orphan(job, reason)
                return
            time.sleep(0.02)
        raise JobRunnerError(
            f"local job {job_id} did not stop within {CANCEL_WAIT_SECONDS:.0f} s of a cancel"
        )

    def logs(self, job_id: str) -> tuple[Path, Path]:
        """Where the job's stdout and stderr are written."""
        job = self._job(job_id)
        return job.stdout, job.stderr

    def _prefix(self, image: str) -> list[str]:
        prefix = self.image_commands.get(image)
        if prefix is None:
            known = ", ".join(sorted(self.image_commands)) or "none"
            raise JobRefusedError(f"no local command for image {image!r}; known images: {known}")
        return prefix

    def _spec_record(self, spec: JobSpec, argv: list[str]) -> dict[str, Any]:
        return {
            "name": spec.name,
            "image": spec.image,
            "argv": argv,
            "vcpus": spec.vcpus,
            "memory_mib": spec.memory_mib,
            "timeout_seconds": spec.timeout_seconds,
            "bwrap": self.bwrap,
            "network": self.network,
            "hidden": self.hidden,
            "readable": self.readable,
        }

    def _environment(self, spec: JobSpec, job: JobDir) -> dict[str, str]:
        # A clean environment: the service's own variables (secrets among them) do not leak into jobs.
        tmp = "/tmp" if self.sandboxed else str(job.work)  # noqa: S108 - a private tmpfs inside the sandbox
        base = {
            "PATH": _job_search_path(),
            "LANG": "C.UTF-8",
            "HOME": str(job.work),
            "TMPDIR": tmp,
            # glibc reserves address space per thread arena; RLIMIT_AS would count it as memory use.
            "MALLOC_ARENA_MAX": "2",
            "UPLOAD_JOB_ID": job.job_id,  # as AWS_BATCH_JOB_ID on Batch: reports name their job
        }
        return {**base, **spec.environment}

    def _secure_state_dir(self) -> None:
        # At start-up: what earlier versions (or a crash) left readable by others, or holding secrets.
        # The first submit creates the directory; a state dir that cannot be read is a submit's error.
        if not self.state_dir.is_dir():
            return
        try:
            self.state_dir.chmod(PRIVATE_DIR)
            jobs = [path for path in self.state_dir.iterdir() if path.is_dir() and not path.is_symlink()]
        except OSError as exc:
            log.warning("could not make the local jobs' state under %s private: %s", self.state_dir, exc)
            return
        for path in jobs:
            try:
                JobDir(path).secure()
            except OSError as exc:
                log.warning("could not make the files of local job %s private: %s", path.name, exc)

    def _job(self, job_id: str) -> JobDir:
        job = JobDir(self.state_dir / job_id)
        if not _JOB_ID.match(job_id) or not (job.path / "status.json").is_file():
            raise JobNotFoundError(f"no local job {job_id!r} under {self.state_dir}")
        return job

    def _read_status(self, job: JobDir) -> dict[str, Any]:
        try:
            return job.read_status()
        except (OSError, ValueError) as exc:
            raise JobRunnerError(f"could not read the status of local job {job.job_id}: {exc}") from None

    def _supervised(self, job: JobDir) -> bool:
        pid = job.supervisor_pid()
        return pid is not None and process_alive(pid, str(job.path))

    def _stop_orphan(self, job: JobDir, reason: str) -> None:
        # The supervisor is gone: stop what it left running and record the cancel ourselves.
        status = self._read_status(job)
        if status["state"] in FINAL_STATES:
            return  # it recorded the outcome after all
        # A sandbox names the job's work dir on its command line, even once reparented.
        victims = processes_mentioning(str(job.work)) if self.sandboxed else []
        pid, started = status.get("pid"), status.get("pid_start")
        # Only the very process the supervisor started: its pid may have been reused since.
        if isinstance(pid, int) and started is not None and start_time(pid) == started:
            # Descendants first: once the top dies they are reparented and can no longer be found.
            victims += [*descendants(pid), pid]
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        for victim in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(victim, signal.SIGKILL)
        job.finish("FAILED", f"{SUPERVISOR_DIED}; then cancelled: {reason}", None)


def command_digest(prefix: Sequence[str], search_path: str) -> str:
    """What stands for an image's digest on this runner: `sha256:` of the hex sha256 of the executable
    file that `prefix[0]` names (found on `search_path`, as the job finds it), followed by the other
    words of `prefix`, each after a NUL. Two images whose commands run the same program (the
    validation harness) differ by their arguments; a changed program file changes the digest."""
    name = prefix[0]
    executable = name if os.sep in name else shutil.which(name, path=search_path)
    if executable is None:
        raise FileNotFoundError(f"{name!r} is not found on PATH")
    with Path(executable).open("rb") as program:
        digest = hashlib.sha256(hashlib.file_digest(program, "sha256").hexdigest().encode())
    for word in prefix[1:]:
        digest.update(b"\0" + word.encode())
    return f"sha256:{digest.hexdigest()}"


def _job_search_path() -> str:
    """Where a job's command is looked up (the job's PATH)."""
    return os.environ.get("PATH", "/usr/bin:/bin")


def _supervisor_environment() -> dict[str, str]:
    # The supervisor needs none of the service's settings or credentials (the job gets its own).
    return {name: value for name, value in os.environ.items() if not name.startswith(("UPLOAD_", "AWS_"))}
