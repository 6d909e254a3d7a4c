"""For the tests of `dcp-upload upload`: a TCP proxy on 127.0.0.1 that counts the bytes clients send
through it (what reached the server), and small file and output helpers.

Put in front of moto or the API, the proxy measures how much of a file an upload really sent, without
timers.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.live_api import wait_for


class CountingProxy:
    """Forwards every connection to `target` (host, port); `sent` counts the client-to-server bytes."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._sent = 0
        self._closing = False
        self._sockets: list[socket.socket] = []
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    @property
    def sent(self) -> int:
        with self._lock:
            return self._sent

    def reset(self) -> None:
        with self._lock:
            self._sent = 0

    def wait_until_sent(
        self, count: int, *, unless: Callable[[], bool] = lambda: False, timeout: float = 300.0
    ) -> None:
        """Until `count` bytes went through, or `unless()` is true (e.g. the sender exited early)."""
        wait_for(
            lambda: self.sent >= count or unless(), timeout=timeout, what=f"{count} bytes through the proxy"
        )

    def close(self) -> None:
        self._closing = True
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        try:
            while data := source.recv(1024 * 1024):
                sink.sendall(data)
                if counted:
                    with self._lock:
                        self._sent += len(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@contextmanager
def counting_proxy(url: str) -> Iterator[CountingProxy]:
    """A proxy in front of the http://host:port `url`."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    proxy = CountingProxy((host, int(port)))
    try:
        yield proxy
    finally:
        proxy.close()


def write_file(path: Path, data: bytes) -> Path:
    """`data` at `path`, its folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def json_events(out: str) -> list[dict[str, Any]]:
    """`dcp-upload upload --json`'s output: one event per line."""
    return [json.loads(line) for line in out.splitlines()]


@dataclass(frozen=True)
class InterruptedUpload:
    """What an upload stopped by SIGINT and then run again sent, as the proxy counted it."""

    interrupted_output: str
    sent_before_interrupt: int
    resumed_output: str
    sent_on_resume: int


def interrupt_then_resume(
    command: list[str], environment: dict[str, str], proxy: CountingProxy, *, interrupt_at: int
) -> InterruptedUpload:
    """Run `command`, send it SIGINT once the proxy has counted `interrupt_at` bytes (a condition, not
    a timer), check that it stops as a Ctrl-C should (exit 130, says how to resume), then run it again
    to the end."""
    first = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        proxy.wait_until_sent(interrupt_at, unless=lambda: first.poll() is not None)
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, err
    assert "stopping: no new part starts; the parts in flight finish" in out
    sent_first = proxy.sent

    proxy.reset()
    second = subprocess.run(
        command, env=environment, capture_output=True, text=True, check=False, timeout=600
    )
    assert second.returncode == 0, second.stderr
    return InterruptedUpload(out, sent_first, second.stdout, proxy.sent)
