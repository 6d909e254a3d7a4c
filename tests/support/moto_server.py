"""moto, the AWS emulator, on 127.0.0.1: as its own process (`moto_server`) or in a thread."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from moto.server import ThreadedMotoServer


@dataclass
class MotoServer:
    """A moto server process on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_moto_server() -> MotoServer:
    """Start moto on a free loopback port, with AWS-managed IAM policies loaded (roles attach them)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 - loopback http only
                return MotoServer(process, url)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {process.returncode}") from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("moto_server did not start within 30 s")


@contextmanager
def moto_process() -> Iterator[MotoServer]:
    """A moto server process for the duration of the block."""
    server = start_moto_server()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def moto_thread() -> Iterator[str]:
    """A moto server in a thread of this process (lighter); yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
