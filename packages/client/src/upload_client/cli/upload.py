"""`dcp-upload upload --area UUID PATH...` (or `--link URL PATH...`): put files into an area.

S3 with the area's credentials where the API offers them (AWS mode), else upload sessions through the
API (the embedded default, and always with a submitter link). Files already there with the same size
and checksums are skipped; an interrupted upload resumes when the same command runs again. The first
Ctrl-C starts no new part and lets the parts in flight finish; a second one stops at once.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

from upload_client.checksums import matches
from upload_client.cli.common import (
    EXIT_API,
    EXIT_BAD_STATE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Invocation,
    UsageError,
    fail,
)
from upload_client.client import Client
from upload_client.errors import ForbiddenError
from upload_client.upload.files import FileSelectionError, LocalFile, UploadError, find_files, first_pass
from upload_client.upload.progress import Reporter, reporter_for
from upload_client.upload.runner import Destination, upload_all
from upload_client.upload.s3 import ResumeRecords, S3Destination, area_s3_client
from upload_client.upload.sessions import SessionDestination

LINK_VARIABLE = "DCP_UPLOAD_LINK"
_AREA_URI = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<area>[^/]+)/?$")
_LINK_PATH = re.compile(r"^(?P<base>.*)/v2/areas/(?P<area>[^/]+)/page/?$")


def register(commands: Any, options: argparse.ArgumentParser) -> None:
    text = "upload files and folders into an area (skips identical files; run it again to resume)"
    command = commands.add_parser("upload", help=text, description=text, parents=[options])
    command.add_argument(
        "--area",
        metavar="UUID",
        help="the area's UUID, or its URI s3://BUCKET/UUID/ (AWS mode, without a key)",
    )
    command.add_argument(
        "--link",
        metavar="URL",
        default=None,
        help=f"a submitter link instead of --api/--area (or ${LINK_VARIABLE})",
    )
    command.add_argument(
        "--parallel", metavar="N", type=int, default=4, help="parts sent at once (default 4)"
    )
    command.add_argument(
        "--content-type",
        metavar="TYPE",
        help='Content-Type of every file (default: guessed from the name, with dcp-type="data")',
    )
    command.add_argument("paths", metavar="PATH", nargs="+", help="files, and folders (recursed)")
    command.set_defaults(run=_upload)


def _upload(invocation: Invocation) -> int:
    args = invocation.args
    if args.parallel < 1:
        raise UsageError("--parallel must be at least 1")
    link = args.link or os.environ.get(LINK_VARIABLE)
    base_url, area, bucket, token = _target(args.area, link)
    try:
        found = find_files(args.paths)
    except FileSelectionError as error:
        raise UsageError(str(error)) from None
    api = invocation.client(url=base_url, submitter_link=token)
    if not api.area_exists(area):
        return fail(invocation, f"dcp-upload: no such area: {area}", EXIT_API)
    reporter = reporter_for(invocation.stdout, as_json=invocation.json)
    files = _first_pass(found, args.content_type, reporter)
    reporter.begin(files)
    existing = {info["name"]: info for info in api.iter_files(area)}
    destination = _destination(invocation, api, area, bucket, link_given=token is not None)
    stop = threading.Event()
    with _interruptible(stop, reporter):
        try:
            to_send = [f for f in files if not _skipped(f, existing, reporter)]
            summary = upload_all(to_send, destination, reporter, parallel=args.parallel, stop=stop)
        except KeyboardInterrupt:  # the second Ctrl-C: no waiting for the parts in flight
            invocation.stderr.write(f"dcp-upload: stopped at once. {_resume_hint(invocation)}\n")
            invocation.stderr.flush()
            invocation.stdout.flush()
            os._exit(EXIT_INTERRUPTED)  # the part threads are not daemons: do not join them
        except BaseException:  # e.g. an API error (exit 3): the bars stop, the summary says what was done
            reporter.finish()
            raise
        finally:
            destination.close()
    if summary.interrupted:
        summary.resume = _resume_command(invocation)
        reporter.note(f"interrupted. {_resume_hint(invocation)}")
    reporter.finish()
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_BAD_STATE if summary.failed else EXIT_OK


def _target(area_option: str | None, link: str | None) -> tuple[str | None, str, str | None, str | None]:
    """(API base URL or None for --api, area, bucket if known, link token) from --area or --link."""
    if link:
        parts = urlsplit(link)
        path = _LINK_PATH.match(parts.path)
        # Not parse_qs: it would read a `+` of the token as a space.
        fields = dict(field.partition("=")[::2] for field in parts.fragment.split("&"))
        token = unquote(fields.get("link", "")) or None
        if path is None or not token:
            raise UsageError("--link takes the submitter link as given: …/v2/areas/UUID/page#link=TOKEN")
        base = f"{parts.scheme}://{parts.netloc}{path['base']}"
        return base, path["area"], None, token
    if not area_option:
        raise UsageError(f"say where: --area UUID (with --api) or --link URL (or ${LINK_VARIABLE})")
    uri = _AREA_URI.match(area_option)
    if uri:
        return None, uri["area"], uri["bucket"], None
    return None, area_option, None, None


def _first_pass(
    found: list[tuple[Path, str]], content_type: str | None, reporter: Reporter
) -> list[LocalFile]:
    files = []
    for path, name in found:
        try:
            files.append(first_pass(path, name, content_type))
        except UploadError as error:
            reporter.note(f"{name}: error: {error}")
            reporter.summary.failed += 1
    return files


def _skipped(file: LocalFile, existing: dict[str, Any], reporter: Reporter) -> bool:
    info = existing.get(file.name)
    if info is None or info["size"] != file.size or not matches(file.checksums, info.get("checksums")):
        return False
    reporter.skip(file, "already in the area with the same size and checksums")
    return True


def _destination(
    invocation: Invocation, api: Client, area: str, bucket: str | None, *, link_given: bool
) -> Destination:
    """S3 with the area's credentials when the API offers them; upload sessions otherwise."""
    if not link_given:
        try:
            api.credentials(area)
        except ForbiddenError:  # "Credentials not offered" (the embedded default): through the API
            pass
        else:
            if bucket is None:
                bucket = _bucket(invocation, api, area)
            s3 = area_s3_client(api, area, parallel=invocation.args.parallel)
            # Tell the API each file is there, as the seed's `hca upload` did: where no bucket
            # notification reaches the service, that is what queues its checksum.
            return S3Destination(
                s3, bucket, area, ResumeRecords(), uploaded=lambda name: api.notify_uploaded(area, name)
            )
    return SessionDestination(api, area, can_put=invocation.has_key)


def _bucket(invocation: Invocation, api: Client, area: str) -> str:
    """The area's bucket, from its URI: `POST /v1/area/{uuid}` answers it (idempotent; needs the key)."""
    if not invocation.has_key:
        raise UsageError("this API offers S3 credentials: give the area's URI, --area s3://BUCKET/UUID/")
    uri = _AREA_URI.match(api.create_area(area)["uri"])
    if uri is None:
        raise UsageError("the area's URI is not an S3 URI")
    return uri["bucket"]


def _resume_command(invocation: Invocation) -> str:
    return invocation.scrub(shlex.join(["dcp-upload", *invocation.argv]))


def _resume_hint(invocation: Invocation) -> str:
    command = _resume_command(invocation)
    hidden = " (with your key or link where *** stands)" if "***" in command else ""
    return f"To resume, run the same command again{hidden}: {command}"


@contextmanager
def _interruptible(stop: threading.Event, reporter: Reporter) -> Iterator[None]:
    """The first SIGINT sets `stop` (the parts in flight finish); the second raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        reporter.note(
            "stopping: no new part starts; the parts in flight finish (Ctrl-C again to stop at once)"
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
