"""Through the API, where credentials are not offered (the embedded default) or with a submitter link.

Upload sessions (`/v2/areas/{uuid}/uploads`): the session declares the file's size, sha256 and crc32c;
each part goes where the API says (a presigned S3 URL, or the API's own signed part route), with
exactly the headers it gives and no key or link. Resume is asking for the session again: the API
answers the OPEN session of the same name, size and checksums with the parts it has received, whose
ETags are compared with the local parts' MD5s (a part with another MD5 is sent again). An OPEN session
of the same name that declares other checksums is an upload of an earlier content: it is aborted.

Where the API has no upload sessions (an older service), a file is one streamed PUT (with the API
key), without resume.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, cast

from upload_client.checksums import matches
from upload_client.client import Client
from upload_client.errors import NotFoundError
from upload_client.models import FileChecksums, UploadSession
from upload_client.upload.files import LocalFile, PartReader, UploadError


class SessionDestination:
    """Files of one area, through upload sessions (or PUT, when the API has none)."""

    def __init__(self, api: Client, area: str, *, can_put: bool) -> None:
        self.api = api
        self.area = area
        self.can_put = can_put  # an API key is at hand, for the PUT fallback
        self.has_sessions: bool | None = None  # learnt from the first file
        self._open: list[UploadSession] | None = None

    def begin(self, file: LocalFile) -> SessionFileUpload | PutFileUpload:
        if self.has_sessions is False:
            return PutFileUpload(self, file)
        return SessionFileUpload(self, file)

    def close(self) -> None:
        """The client is the command's, closed with it."""

    def open_sessions(self) -> list[UploadSession]:
        """The area's OPEN sessions (asked once per run)."""
        if self._open is None:
            self._open = self.api.list_uploads(self.area)
        return self._open


class SessionFileUpload:
    """One file through an upload session."""

    def __init__(self, destination: SessionDestination, file: LocalFile) -> None:
        self.d = destination
        self.file = file
        self.notes: list[str] = []
        self.part_count = 0
        self.session: UploadSession | None = None
        self.fallback: PutFileUpload | None = None

    def prepare(self) -> list[int]:
        file, api = self.file, self.d.api
        try:
            earlier = [s for s in self.d.open_sessions() if s["name"] == file.name]
        except NotFoundError:  # no such route: the area exists (checked first), so the API has no sessions
            if not self.d.can_put:
                raise UploadError("this API has no upload sessions, and a PUT needs the API key") from None
            self.d.has_sessions = False
            self.fallback = PutFileUpload(self.d, file)
            self.notes.append("this API has no upload sessions: one PUT, without resume")
            self.part_count = 1
            return self.fallback.prepare()
        self.d.has_sessions = True
        for session in earlier:
            if (session["size"], session["sha256"], session["crc32c"]) != self._declared():
                api.abort_upload(self.d.area, session["id"])
                self.notes.append("aborted an earlier upload (the file changed since); starting again")
        session = api.create_upload(
            self.d.area,
            file.name,
            file.size,
            content_type=file.content_type,
            sha256=file.checksums.sha256,
            crc32c=file.checksums.crc32c,
        )
        self.session = session
        self.part_count = session["part_count"]
        present = set()
        for part in session["parts"]:
            number = part["number"]
            good = 1 <= number <= session["part_count"] and (
                part["size"] == self.part_length(number)
                and part["etag"].strip('"') == file.md5_of_part(number, session["part_size"])
            )
            if good:
                present.add(number)
            else:
                self.notes.append(f"corrupted part {number} (its MD5 is not the file's): sending it again")
        if session["parts"]:
            self.notes.append(f"resuming: {len(present)} of {session['part_count']} parts already there")
        return [n for n in range(1, session["part_count"] + 1) if n not in present]

    def part_length(self, number: int) -> int:
        if self.fallback is not None:
            return self.fallback.part_length(number)
        assert self.session is not None
        return self.file.part_range(number, self.session["part_size"])[1]

    def send(self, number: int, on_read: Callable[[int], None]) -> None:
        if self.fallback is not None:
            self.fallback.send(number, on_read)
            return
        assert self.session is not None
        part_size = self.session["part_size"]
        offset, length = self.file.part_range(number, part_size)
        target = self.d.api.upload_part_url(self.d.area, self.session["id"], number)
        with PartReader(self.file.path, offset, length, on_read) as body:
            etag = self.d.api.send_part(target, body.chunks, length)
        if etag and etag != self.file.md5_of_part(number, part_size):
            raise UploadError(f"part {number} arrived with another MD5 than it had when first read")

    def finish(self) -> bool | None:
        if self.fallback is not None:
            return self.fallback.finish()
        assert self.session is not None
        completed = self.d.api.complete_upload(self.d.area, self.session["id"])
        stored = completed.get("file")
        return _verified(self.file, stored["checksums"] if stored else None)

    def _declared(self) -> tuple[int, str, str]:
        return self.file.size, self.file.checksums.sha256, self.file.checksums.crc32c


class PutFileUpload:
    """One file as one streamed PUT /v1/area/{uuid}/{name} (needs the API key; no resume)."""

    def __init__(self, destination: SessionDestination, file: LocalFile) -> None:
        self.d = destination
        self.file = file
        self.notes: list[str] = []
        self.part_count = 1
        self.verified: bool | None = None

    def prepare(self) -> list[int]:
        return [1]

    def part_length(self, number: int) -> int:
        return self.file.size

    def send(self, number: int, on_read: Callable[[int], None]) -> None:
        with PartReader(self.file.path, 0, self.file.size, on_read) as body:
            stored = self.d.api.put_file(  # a file object: read, seek, tell
                self.d.area, self.file.name, cast(IO[bytes], body), content_type=self.file.content_type
            )
        self.verified = _verified(self.file, stored["checksums"])

    def finish(self) -> bool | None:
        return self.verified


def _verified(file: LocalFile, checksums: FileChecksums | None) -> bool | None:
    """Whether the service's checksums equal the first pass's (None while it has none)."""
    return matches(file.checksums, checksums) if checksums else None
