"""What the untrusted validator gets: its user and its environment, both decided by the harness.

- **User.** A harness running as root (the validator image's default) runs the validator as
  `UPLOAD_VALIDATOR_USER` (the image sets `nobody`; unset: no switch), with that user's group
  only: the validator cannot read the harness's memory or `/proc/<pid>/environ` (its token, the
  staging credentials), signal it, or write what the harness staged. A harness that is not root
  cannot switch: the validator runs as the harness's own user (locally the sandbox then is what
  separates it from the service).
- **Network.** None where the platform lets a process leave the network: the validator gets a network
  namespace of its own (only a downed loopback), through a user namespace of its own where it may not
  create one otherwise. The harness keeps its network (it reports to the API). In a container that
  allows neither (Docker's default seccomp profile and capabilities, as on AWS Batch) the validator
  has the container's network, and the harness says so in its log.
- **Environment.** Built from scratch: a minimal base the harness controls (PATH, LANG, HOME and TMPDIR
  in the job's run directory) plus the caller's variables (`upload_common.domain.validator_environment`).
  Nothing of the harness's own environment passes unless it is in `INHERITED`: no token, no AWS
  variable, no credential endpoint (`AWS_CONTAINER_CREDENTIALS_*`), no ECS metadata URI.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upload_common.errors import ConfigurationError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Set by the image or the job runner, never by the caller (who cannot set them: see the domain rule).
# MALLOC_ARENA_MAX: the local runner's memory limit counts address space, which glibc's arenas inflate.
INHERITED = ("PATH", "MALLOC_ARENA_MAX")
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidatorUser:
    """Whom the validator runs as: the user, and its group as the only one."""

    name: str
    uid: int
    gid: int

    def popen_arguments(self) -> dict[str, Any]:
        """`subprocess.Popen`'s arguments that start a process as this user, with its group only."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def validator_user(configured: str | None, *, euid: int | None = None) -> ValidatorUser | None:
    """The user to switch to, or None when the validator runs as the harness's own user: nothing is
    configured, the harness is not root (`euid`, default the process's), or `configured` is root itself.

    `configured` is a user name or a uid (a uid without a passwd entry gets the group of the same number).
    """
    if not configured or (os.geteuid() if euid is None else euid) != 0:
        return None
    try:
        entry = pwd.getpwuid(int(configured)) if configured.isdigit() else pwd.getpwnam(configured)
    except KeyError:
        if not configured.isdigit():
            raise ConfigurationError(
                f"UPLOAD_VALIDATOR_USER: no user {configured!r} here (a name or a uid)"
            ) from None
        user = ValidatorUser(configured, int(configured), int(configured))
    else:
        user = ValidatorUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    return None if user.uid == 0 else user


def validator_environment(
    caller: Mapping[str, str], *, home: Path, tmp: Path, harness: Mapping[str, str]
) -> dict[str, str]:
    """The validator's whole environment: the harness's base, then the caller's (checked) variables."""
    base = {name: harness[name] for name in INHERITED if harness.get(name)}
    base.setdefault("PATH", DEFAULT_PATH)
    base.update(LANG="C.UTF-8", HOME=str(home), TMPDIR=str(tmp))
    return {**base, **caller}


def network_isolation(user: ValidatorUser | None) -> Callable[[], None] | None:
    """The `preexec_fn` that takes the validator (running as `user`) off the network, or None (with a
    warning) where this platform does not allow it. Tried once, on a process like the validator's."""
    probe = shutil.which("true")
    if probe is None or _libc() is None:
        _log.warning("the validator keeps the network: cannot try to leave it here")
        return None
    identity = {} if user is None else user.popen_arguments()
    try:
        subprocess.run(  # noqa: S603 - a fixed command
            [probe], env={}, stdin=subprocess.DEVNULL, preexec_fn=_leave_network, check=True, **identity
        )
    except (OSError, subprocess.SubprocessError) as exc:
        _log.warning(
            "the validator keeps the network: this platform lets no process leave it (%s); "
            "see docs/operations.md, What a validator can and cannot reach",
            exc,
        )
        return None
    return _leave_network


def _leave_network() -> None:
    # Runs in the forked child once its user is set; libc was loaded before the fork (by the probe).
    libc = _libc()
    if libc is None or (libc.unshare(CLONE_NEWNET) != 0 and libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0):
        raise OSError(ctypes.get_errno(), "cannot leave the network")


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare  # noqa: B018 - absent outside Linux
    except (OSError, AttributeError):
        return None
    return libc
