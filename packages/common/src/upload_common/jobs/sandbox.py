"""How a local job is confined: bubblewrap when it works here, resource limits always, tree kills.

With `bwrap` the job sees the whole filesystem read-only except its own work directory and a private
`/tmp`, has no network (a private network namespace with only a downed loopback), and lives in its own
PID namespace, so killing bwrap ends every process the job started.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

MIB = 1024 * 1024
_PROBE = ("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net", "--unshare-pid")


@functools.cache
def find_bwrap() -> str | None:
    """The path of a `bwrap` that can create the sandbox here, or None (absent, or namespaces refused)."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    try:
        probe = subprocess.run(  # noqa: S603 - a fixed command line
            [path, *_PROBE, "--new-session", "true"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return path if probe.returncode == 0 else None


def bwrap_argv(
    bwrap: str,
    argv: Sequence[str],
    *,
    work: Path,
    network: bool = False,
    hidden: Sequence[str] = (),
    readable: Sequence[str] = (),
) -> list[str]:
    """`argv` wrapped in bubblewrap: read-only root, writable `work`, private /tmp, `hidden` paths masked,
    `readable` paths bound read-only over whatever would cover them."""
    private_tmp = "/tmp"  # noqa: S108 - a fresh tmpfs inside the sandbox, not the host's /tmp
    wrapped = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", private_tmp]
    for path in hidden:
        # An empty directory in place of a directory, an empty file in place of a file (e.g. the
        # service's secrets or its database); a path that does not exist needs no mask.
        if Path(path).is_dir():
            wrapped += ["--tmpfs", path]
        elif Path(path).exists():
            wrapped += ["--ro-bind", "/dev/null", path]
    for path in readable:
        if Path(path).exists():
            wrapped += ["--ro-bind", path, path]
    # The work dir is bound after the tmpfs mounts, so it stays visible even when it lives under one.
    wrapped += ["--bind", str(work), str(work), "--chdir", str(work)]
    wrapped += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"]
    if not network:
        wrapped.append("--unshare-net")
    return [*wrapped, "--", *argv]


def limiter(memory_mib: int, cpu_seconds: int) -> Callable[[], None]:
    """A `preexec_fn` that caps the address space and the CPU time of the job and its children."""

    def apply() -> None:
        memory = memory_mib * MIB
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        # The soft limit sends SIGXCPU; the hard one, a little later, SIGKILL.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux), so a grandchild that escaped its process group is still found."""
    try:
        import ctypes  # noqa: PLC0415 - only the supervisor needs it

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass  # not Linux: the process-group kill still applies


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the job's process group and every descendant of this process, then reap the job."""
    for _ in range(50):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        others = [pid for pid in descendants(os.getpid()) if pid != process.pid]
        for pid in others:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            try:
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
        reap_orphans()
        if not descendants(os.getpid()):
            return


def reap_orphans() -> None:
    """Collect the exit status of adopted orphans so they do not linger as zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def descendants(root: int) -> list[int]:
    """Every live process below `root`, read from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in ("Z", "X"):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def processes_mentioning(text: str) -> list[int]:
    """Every live process whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found
