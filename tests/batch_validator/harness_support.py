"""Helpers of the harness tests: constants of one validation job, the harness as a real process."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import sys
from pathlib import Path

from support.callback_server import CallbackServer as BaseCallbackServer
from upload_common.domain.validator_environment import pack_environment

BIN = Path(sys.executable).parent  # the console scripts of the environment running the tests
AREA = "0b2b4f0e-3c1a-4f5e-9a57-1a2b3c4d5e6f"
VALIDATION_ID = "5f0e9d2c-7a41-4b8e-8c1d-0a9b8c7d6e5f"
TOKEN = "job-token-for-this-validation"
JOB_ID = "local-job-1"


class CallbackServer(BaseCallbackServer):
    """The callback stand-in, with the URL of this validation's callback."""

    def callback_url(self, area: str = AREA, validation_id: str = VALIDATION_ID) -> str:
        return f"{self.url_base}/v1/area/{area}/update_validation/{validation_id}"


# The tests' validators (scripts in the test's private temp dir, this environment's Python) are the
# test user's: they run as that user. Running them as another user is tested on its own (test_isolation).
TEST_USER = pwd.getpwuid(os.geteuid()).pw_name


def job_environment(
    callback_url: str, staging_dir: Path, caller: dict[str, str] | None = None, **extra: str
) -> dict[str, str]:
    """What the scheduler (or the local runner) sets on a validation job; `caller`: the request's
    `environment`, packed as the scheduler packs it."""
    env = dict(os.environ)
    env.update(
        UPLOAD_VALIDATION_ID=VALIDATION_ID,
        UPLOAD_CALLBACK_URL=callback_url,
        UPLOAD_CALLBACK_TOKEN=TOKEN,
        UPLOAD_STAGING_DIR=str(staging_dir),
        UPLOAD_JOB_ID=JOB_ID,
        UPLOAD_CALLBACK_RETRY_WAIT_SECONDS="0.01",
        UPLOAD_VALIDATOR_USER=TEST_USER,
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(pack_environment(caller or {}))
    env.update(extra)
    return env


def run_harness(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`upload-validate ARGS...` as a real process; its output is captured as text."""
    return subprocess.run(
        [str(BIN / "upload-validate"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_script(path: Path, body: str) -> Path:
    """An executable shell script (a stand-in validator)."""
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def is_running(pid: int) -> bool:
    """True while `pid` is a live process (not gone, not a zombie waiting for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
