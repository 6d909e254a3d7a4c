"""What `dcp-upload upload` tells its user: bars on a terminal (rich), plain lines otherwise, or one JSON
object per event (`start`, `part`, `skip`, `done`, `error`, `summary`) for scripts.

Every method may be called from the part threads at once: each reporter serialises its output.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from upload_client.upload.files import LocalFile


@dataclass
class Summary:
    """The outcome of a run, counted as events are reported."""

    files: int = 0
    uploaded: int = 0
    skipped: int = 0
    failed: int = 0
    bytes_sent: int = 0
    interrupted: bool = False
    resume: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "uploaded": self.uploaded,
            "skipped": self.skipped,
            "failed": self.failed,
            "bytes_sent": self.bytes_sent,
            "interrupted": self.interrupted,
            "resume": self.resume,
        }


class Reporter(Protocol):
    summary: Summary

    def begin(self, files: list[LocalFile]) -> None:
        """Every file found, before anything is sent (their total size sizes the total bar)."""

    def note(self, text: str) -> None:
        """Something the user should know that is no event of one file (e.g. the first Ctrl-C)."""

    def skip(self, file: LocalFile, reason: str) -> None: ...

    def start(self, file: LocalFile, *, parts: int, to_send: int, present: int, notes: list[str]) -> None:
        """The file's upload starts, in `parts` parts: `to_send` bytes go out, `present` are there."""

    def advance(self, file: LocalFile, sent: int) -> None:
        """`sent` more bytes of the file went out (negative: a part is sent again from its start)."""

    def part(self, file: LocalFile, number: int, size: int) -> None:
        """Part `number` of the file arrived."""

    def done(self, file: LocalFile, verified: bool | None) -> None:
        """Stored; `verified`: the service's checksums equal ours (None: not computed yet)."""

    def error(self, file: LocalFile, message: str) -> None: ...

    def finish(self) -> None:
        """The run ended (the summary is complete)."""


class _Base:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.summary = Summary()
        # Re-entrant: the SIGINT handler's note may interrupt this very thread while it holds the lock.
        self._lock = threading.RLock()

    def begin(self, files: list[LocalFile]) -> None:
        self.summary.files = len(files)

    def _count_advance(self, sent: int) -> None:
        with self._lock:
            self.summary.bytes_sent += sent


class JsonReporter(_Base):
    """One JSON object per line and per event."""

    def _emit(self, event: str, **fields: Any) -> None:
        with self._lock:
            self.out.write(json.dumps({"event": event, **fields}) + "\n")
            self.out.flush()

    def note(self, text: str) -> None:
        self._emit("note", message=text)

    def skip(self, file: LocalFile, reason: str) -> None:
        self.summary.skipped += 1
        self._emit("skip", name=file.name, size=file.size, reason=reason)

    def start(self, file: LocalFile, *, parts: int, to_send: int, present: int, notes: list[str]) -> None:
        self._emit(
            "start",
            name=file.name,
            path=str(file.path),
            size=file.size,
            parts=parts,
            to_send=to_send,
            present=present,
            notes=notes,
        )

    def advance(self, file: LocalFile, sent: int) -> None:
        self._count_advance(sent)

    def part(self, file: LocalFile, number: int, size: int) -> None:
        self._emit("part", name=file.name, number=number, size=size)

    def done(self, file: LocalFile, verified: bool | None) -> None:
        self.summary.uploaded += 1
        self._emit(
            "done", name=file.name, size=file.size, checksums=file.checksums.as_dict(), verified=verified
        )

    def error(self, file: LocalFile, message: str) -> None:
        self.summary.failed += 1
        self._emit("error", name=file.name, message=message)

    def finish(self) -> None:
        self._emit("summary", **self.summary.as_dict())


class PlainReporter(_Base):
    """Plain lines (not a terminal): one per file event and per part, none per byte."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(out)
        self._parts: dict[str, int] = {}

    def _line(self, text: str) -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def note(self, text: str) -> None:
        self._line(text)

    def skip(self, file: LocalFile, reason: str) -> None:
        self.summary.skipped += 1
        self._line(f"{file.name}: skipped ({reason})")

    def start(self, file: LocalFile, *, parts: int, to_send: int, present: int, notes: list[str]) -> None:
        self._parts[file.name] = parts
        for text in notes:
            self._line(f"{file.name}: {text}")
        resumed = f", {_size(present)} already there" if present else ""
        self._line(f"{file.name}: sending {_size(to_send)} of {_size(file.size)}{resumed}")

    def advance(self, file: LocalFile, sent: int) -> None:
        self._count_advance(sent)

    def part(self, file: LocalFile, number: int, size: int) -> None:
        self._line(f"{file.name}: part {number}/{self._parts.get(file.name, '?')} sent ({_size(size)})")

    def done(self, file: LocalFile, verified: bool | None) -> None:
        self.summary.uploaded += 1
        check = {True: "the service's checksums match", False: "CHECKSUMS DIFFER", None: "checksum pending"}
        self._line(f"{file.name}: done, sha256 {file.checksums.sha256} ({check[verified]})")

    def error(self, file: LocalFile, message: str) -> None:
        self.summary.failed += 1
        self._line(f"{file.name}: error: {message}")

    def finish(self) -> None:
        s = self.summary
        self._line(
            f"{s.uploaded} uploaded, {s.skipped} skipped, {s.failed} failed of {s.files} files; "
            f"{_size(s.bytes_sent)} sent"
        )


class RichReporter(_Base):
    """A bar per file and a total (bytes, rate, ETA), on a terminal."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(out)
        self._console = Console(file=out)
        self._progress = Progress(
            TextColumn("{task.description}", table_column=None),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._total: TaskID | None = None
        self._started = time.monotonic()

    def begin(self, files: list[LocalFile]) -> None:
        super().begin(files)
        self._progress.start()
        self._total = self._progress.add_task("[bold]total", total=sum(f.size for f in files))

    def note(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False)

    def skip(self, file: LocalFile, reason: str) -> None:
        self.summary.skipped += 1
        self._progress.console.print(f"{file.name}: skipped ({reason})", markup=False, highlight=False)
        self._advance_total(file.size)

    def start(self, file: LocalFile, *, parts: int, to_send: int, present: int, notes: list[str]) -> None:
        for text in notes:
            self._progress.console.print(f"{file.name}: {text}", markup=False, highlight=False)
        task = self._progress.add_task(file.name, total=file.size, completed=present)
        with self._lock:
            self._tasks[file.name] = task
        self._advance_total(present)

    def advance(self, file: LocalFile, sent: int) -> None:
        self._count_advance(sent)
        self._progress.advance(self._tasks[file.name], sent)
        self._advance_total(sent)

    def part(self, file: LocalFile, number: int, size: int) -> None:
        """The bars show it."""

    def done(self, file: LocalFile, verified: bool | None) -> None:
        self.summary.uploaded += 1
        check = {True: "checksums match", False: "CHECKSUMS DIFFER", None: "checksum pending"}[verified]
        self._progress.update(self._tasks[file.name], description=f"{file.name} [green]done[/] ({check})")

    def error(self, file: LocalFile, message: str) -> None:
        self.summary.failed += 1
        task = self._tasks.get(file.name)
        if task is not None:
            self._progress.update(task, description=f"{file.name} [red]error[/]")
        self._progress.console.print(f"{file.name}: error: {message}", markup=False, highlight=False)

    def finish(self) -> None:
        self._progress.stop()
        s = self.summary
        seconds = max(time.monotonic() - self._started, 1e-9)
        self._console.print(
            f"{s.uploaded} uploaded, {s.skipped} skipped, {s.failed} failed of {s.files} files; "
            f"{_size(s.bytes_sent)} sent in {seconds:.1f} s",
            markup=False,
            highlight=False,
        )

    def _advance_total(self, sent: int) -> None:
        if self._total is not None and sent:
            self._progress.advance(self._total, sent)


def reporter_for(out: IO[str], *, as_json: bool) -> Reporter:
    """JSON for scripts; bars on a terminal; plain lines otherwise."""
    if as_json:
        return JsonReporter(out)
    return RichReporter(out) if out.isatty() else PlainReporter(out)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
