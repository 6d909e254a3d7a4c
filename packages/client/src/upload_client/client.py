"""`Client`: every API operation a submitter or ingest calls, typed, with retries and typed errors.

Job-only routes (the `update_checksum` / `update_validation` callbacks and the validations'
`staging-credentials`) take a per-job token, never an API key, and are not offered here.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import IO, Any, Self, cast
from urllib.parse import quote

import httpx

from upload_client.errors import ApiConnectionError, ApiError, error_class
from upload_client.models import (
    AreaChecksumCounts,
    AreaDeletion,
    AreaUri,
    AreaValidationCounts,
    ChecksumInfo,
    Credentials,
    FileInfo,
    FileList,
    Health,
    PartTarget,
    SubmitterLink,
    UploadSession,
    UploadSessionList,
    ValidationId,
    ValidationInfo,
    Version,
)
from upload_client.retry import RETRY_STATUSES, Retry

API_KEY_HEADER = "Api-Key"  # the header the service's `api_key` security scheme reads
SUBMITTER_LINK_HEADER = "Submitter-Link"  # the `submitter_link` scheme's header (a link's token)
CHUNK_SIZE = 1024 * 1024  # a PUT body is sent in pieces of this size, never read whole
_SCRUBBED = "***"

# Makes the body of one attempt; called again for each retry (a file is rewound first).
BodyFactory = Callable[[], Iterator[bytes]]


class Client:
    """A client of one dcp-upload API.

    `base_url` is the API's root (e.g. `https://upload.example.org`); `api_key` is sent as the
    `Api-Key` header on every request when given (routes that need none ignore it, and a valid key is
    never rate limited). `submitter_link` (a link's token) is sent as the `Submitter-Link` header, for
    the routes a submitter link opens (upload sessions, the report). `retries` is a `Retry` policy or a
    number of attempts. `transport` replaces httpx's network transport (e.g. for an in-process app).
    Use it as a context manager, or `close()` it.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = 60.0,
        retries: Retry | int | None = None,
        transport: httpx.BaseTransport | None = None,
        submitter_link: str | None = None,
    ) -> None:
        self._api_key = api_key
        self._secrets = [secret for secret in (api_key, submitter_link) if secret]
        if retries is None:
            retries = Retry()
        self._retry = retries if isinstance(retries, Retry) else Retry(attempts=retries)
        headers = {"User-Agent": "dcp-upload-client"}
        if api_key is not None:
            headers[API_KEY_HEADER] = api_key
        if submitter_link is not None:
            headers[SUBMITTER_LINK_HEADER] = submitter_link
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=headers, transport=transport
        )
        # Parts go to URLs that carry their own authority: never with the key or the link.
        self._parts_http = httpx.Client(
            timeout=timeout, headers={"User-Agent": "dcp-upload-client"}, transport=transport
        )

    def __repr__(self) -> str:
        return f"Client({str(self._http.base_url)!r}, api_key={'***' if self._api_key else None})"

    def close(self) -> None:
        self._http.close()
        self._parts_http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- service ---------------------------------------------------------------------------------------

    def version(self) -> Version:
        """GET /version."""
        return cast(Version, self._json("GET", "/version"))

    def health(self, *, v1: bool = False) -> Health:
        """GET /health (or the seed's /v1/health); a 503 raises `ServerError` once the retries are spent."""
        return cast(Health, self._json("GET", "/v1/health" if v1 else "/health"))

    # -- areas -----------------------------------------------------------------------------------------

    def area_exists(self, area: str) -> bool:
        """HEAD /v1/area/{uuid}: whether the area exists and is not deleted."""
        response = self._request("HEAD", _area(area), accept=(200, 404))
        return response.status_code == 200

    def create_area(self, area: str) -> AreaUri:
        """POST /v1/area/{uuid} (idempotent; a deleted area is never revived: 409). Needs the API key."""
        return cast(AreaUri, self._json("POST", _area(area)))

    def delete_area(self, area: str) -> AreaDeletion:
        """DELETE /v1/area/{uuid}: queue the area's deletion. Needs the API key."""
        return cast(AreaDeletion, self._json("DELETE", _area(area)))

    def credentials(self, area: str) -> Credentials:
        """POST /v1/area/{uuid}/credentials: short-lived credentials that can only put into this area."""
        body = self._json("POST", f"{_area(area)}/credentials")
        return Credentials(
            access_key_id=body["AccessKeyId"],
            secret_access_key=body["SecretAccessKey"],
            session_token=body["SessionToken"],
            expiration=body["Expiration"],
        )

    def lock_area(self, area: str) -> None:
        """POST /v1/area/{uuid}/lock: refuse further uploads. Needs the API key."""
        self._request("POST", f"{_area(area)}/lock")

    def unlock_area(self, area: str) -> None:
        """DELETE /v1/area/{uuid}/lock. Needs the API key."""
        self._request("DELETE", f"{_area(area)}/lock")

    def area_checksums(self, area: str) -> AreaChecksumCounts:
        """GET /v1/area/{uuid}/checksums: how many files are in each checksum state."""
        return cast(AreaChecksumCounts, self._json("GET", f"{_area(area)}/checksums"))

    def area_validations(self, area: str) -> AreaValidationCounts:
        """GET /v1/area/{uuid}/validations: how many validations are in each state."""
        return cast(AreaValidationCounts, self._json("GET", f"{_area(area)}/validations"))

    # -- files -----------------------------------------------------------------------------------------

    def list_files(self, area: str, *, limit: int | None = None, cursor: str | None = None) -> FileList:
        """GET /v1/area/{uuid}/files: one page of the area's files in name order."""
        params = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
        return cast(FileList, self._json("GET", f"{_area(area)}/files", params=params))

    def iter_files(self, area: str, *, page_size: int | None = None) -> Iterator[FileInfo]:
        """Every file of the area, following `next_cursor` page by page."""
        cursor: str | None = None
        while True:
            page = self.list_files(area, limit=page_size, cursor=cursor)
            yield from page["files"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def files_info(self, area: str, names: Sequence[str]) -> list[FileInfo]:
        """PUT /v1/area/{uuid}/files_info: the FileInfo of each named file, in the order asked."""
        return cast(list[FileInfo], self._json("PUT", f"{_area(area)}/files_info", json=list(names)))

    def put_file(self, area: str, name: str, data: IO[bytes] | bytes, *, content_type: str) -> FileInfo:
        """PUT /v1/area/{uuid}/{name}: store `data` as the file; the answer carries its checksums.

        `content_type` must carry a `dcp-type` parameter, e.g. `application/json; dcp-type="metadata/sample"`.
        A file object is streamed from its current position in pieces of `CHUNK_SIZE`; it is retried
        only when it can be rewound (seekable). Needs the API key.
        """
        headers = {"Content-Type": content_type}
        if isinstance(data, bytes):
            body: BodyFactory | bytes = data
            replayable = True
        else:
            body, size, replayable = _file_body(data)
            if size is not None:  # else httpx sends it chunked
                headers["Content-Length"] = str(size)
        return cast(
            FileInfo,
            self._json("PUT", _file(area, name), body=body, headers=headers, replayable=replayable),
        )

    def file_info(self, area: str, name: str) -> FileInfo:
        """GET /v1/area/{uuid}/{name}: the FileInfo of the file's current version."""
        return cast(FileInfo, self._json("GET", _file(area, name)))

    def notify_uploaded(self, area: str, name: str) -> None:
        """POST /v1/area/{uuid}/{name}: the file was put straight into the store; checksum it."""
        self._request("POST", _file(area, name))

    def file_checksum(self, area: str, name: str) -> ChecksumInfo:
        """GET /v1/area/{uuid}/{name}/checksum: checksum status and checksums of the current version."""
        return cast(ChecksumInfo, self._json("GET", f"{_file(area, name)}/checksum"))

    # -- validations -----------------------------------------------------------------------------------

    def validate_file(
        self,
        area: str,
        name: str,
        validator_image: str,
        *,
        environment: Mapping[str, str] | None = None,
        original_validation_id: str | None = None,
    ) -> ValidationId:
        """PUT /v1/area/{uuid}/{name}/validate: run a validator image against the file. Needs the API key."""
        request = _validation_request(validator_image, environment, original_validation_id)
        return cast(ValidationId, self._json("PUT", f"{_file(area, name)}/validate", json=request))

    def validate_files(
        self,
        area: str,
        names: Sequence[str],
        validator_image: str,
        *,
        environment: Mapping[str, str] | None = None,
        original_validation_id: str | None = None,
    ) -> ValidationId:
        """PUT /v1/area/{uuid}/validate: run a validator image against several files, in this order."""
        request = {
            **_validation_request(validator_image, environment, original_validation_id),
            "files": list(names),
        }
        return cast(ValidationId, self._json("PUT", f"{_area(area)}/validate", json=request))

    def file_validation(self, area: str, name: str) -> ValidationInfo:
        """GET /v1/area/{uuid}/{name}/validate: status and results of the file's latest validation."""
        return cast(ValidationInfo, self._json("GET", f"{_file(area, name)}/validate"))

    # -- upload sessions (/v2) --------------------------------------------------------------------------

    def create_upload(
        self,
        area: str,
        name: str,
        size: int,
        *,
        content_type: str | None = None,
        sha256: str | None = None,
        crc32c: str | None = None,
    ) -> UploadSession:
        """POST /v2/areas/{uuid}/uploads: a new session (201), or the OPEN one of the same name, size and
        declared checksums (200): asking again is how an interrupted upload resumes."""
        request: dict[str, Any] = {"name": name, "size": size}
        optional = (("content_type", content_type), ("sha256", sha256), ("crc32c", crc32c))
        request.update({key: value for key, value in optional if value is not None})
        return cast(UploadSession, self._json("POST", f"{_v2(area)}/uploads", json=request))

    def list_uploads(self, area: str) -> list[UploadSession]:
        """GET /v2/areas/{uuid}/uploads: the area's OPEN sessions."""
        return cast(UploadSessionList, self._json("GET", f"{_v2(area)}/uploads"))["uploads"]

    def get_upload(self, area: str, upload_id: str) -> UploadSession:
        """GET /v2/areas/{uuid}/uploads/{id}: the session with the parts the store has received."""
        return cast(UploadSession, self._json("GET", _upload(area, upload_id)))

    def upload_part_url(self, area: str, upload_id: str, number: int) -> PartTarget:
        """POST /v2/areas/{uuid}/uploads/{id}/parts/{n}: where and how to send part `number` (1-based)."""
        return cast(PartTarget, self._json("POST", f"{_upload(area, upload_id)}/parts/{number}"))

    def send_part(self, target: PartTarget, body: BodyFactory | bytes, size: int) -> str:
        """Send one part's `size` bytes where `target` says, with exactly its headers (no key, no link);
        returns the ETag the store answers (the part's MD5 hex, quotes removed). A body factory is
        called again for each retry."""
        headers = {**target["headers"], "Content-Length": str(size)}
        response = self._request(
            target["method"], target["url"], body=body, headers=headers, http=self._parts_http
        )
        return str(response.headers.get("ETag", "")).strip('"')

    def complete_upload(self, area: str, upload_id: str) -> UploadSession:
        """POST /v2/areas/{uuid}/uploads/{id}/complete: assemble the parts into the file (409 when parts
        are missing or wrongly sized); the answer carries the stored file's FileInfo."""
        return cast(UploadSession, self._json("POST", f"{_upload(area, upload_id)}/complete"))

    def abort_upload(self, area: str, upload_id: str) -> None:
        """DELETE /v2/areas/{uuid}/uploads/{id}: abort the session and remove its parts (idempotent)."""
        self._request("DELETE", _upload(area, upload_id))

    # -- submitter links (/v2) -------------------------------------------------------------------------

    def create_submitter_link(self, area: str, *, ttl_seconds: int | None = None) -> SubmitterLink:
        """POST /v2/areas/{uuid}/submitter-links: a signed, expiring link to upload into this area only.
        Needs the API key."""
        request = {} if ttl_seconds is None else {"ttl_seconds": ttl_seconds}
        return cast(SubmitterLink, self._json("POST", f"{_v2(area)}/submitter-links", json=request))

    # -- transport -------------------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        body: BodyFactory | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        replayable: bool = True,
        accept: tuple[int, ...] = (),
        http: httpx.Client | None = None,
    ) -> httpx.Response:
        """Send with retries; return a 2xx answer (or one whose status is in `accept`), raise otherwise."""
        retry = self._retry
        attempts = retry.attempts if replayable else 1
        http = http or self._http
        for attempt in range(1, attempts + 1):
            content = body() if callable(body) else body
            try:
                response = http.request(
                    method, path, params=params, json=json, content=content, headers=headers
                )
            except httpx.TransportError as error:
                if attempt == attempts:
                    # Not chained: httpx's exception holds the request, and with it the API key.
                    where = path.split("?", 1)[0]  # a part URL's query is its signature
                    raise ApiConnectionError(f"{method} {where}: {type(error).__name__}: {error}") from None
                delay = retry.backoff(attempt)
            else:
                status = response.status_code
                if status < 400 or status in accept:
                    return response
                if status not in RETRY_STATUSES or attempt == attempts:
                    raise self._error(response)
                wait = retry.retry_after(response.headers.get("Retry-After"))
                if wait is not None and wait > retry.max_retry_after:
                    raise self._error(response)
                delay = retry.backoff(attempt) if wait is None else wait
            retry.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _error(self, response: httpx.Response) -> ApiError:
        body: Any = self._scrub(response.text) if response.content else None
        problem: dict[str, Any] = {}
        if body and "json" in response.headers.get("Content-Type", ""):
            try:
                parsed = response.json()
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                problem = {k: self._scrub(v) if isinstance(v, str) else v for k, v in parsed.items()}
                body = problem
        title = problem.get("title") or response.reason_phrase or f"HTTP {response.status_code}"
        detail, kind = problem.get("detail"), problem.get("type")
        return error_class(response.status_code)(
            response.status_code,
            str(title),
            None if detail is None else str(detail),
            None if kind is None else str(kind),
            body,
        )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _SCRUBBED)
        return text


def _area(area: str) -> str:
    return f"/v1/area/{quote(area, safe='')}"


def _v2(area: str) -> str:
    return f"/v2/areas/{quote(area, safe='')}"


def _upload(area: str, upload_id: str) -> str:
    return f"{_v2(area)}/uploads/{quote(upload_id, safe='')}"


def _file(area: str, name: str) -> str:
    # Names are percent-encoded once (a `/` inside a name as %2F); the service decodes them once.
    return f"{_area(area)}/{quote(name, safe='')}"


def _validation_request(
    image: str, environment: Mapping[str, str] | None, original_validation_id: str | None
) -> dict[str, Any]:
    request: dict[str, Any] = {"validator_image": image}
    if environment is not None:
        request["environment"] = dict(environment)
    if original_validation_id is not None:
        request["original_validation_id"] = original_validation_id
    return request


def _file_body(file: IO[bytes]) -> tuple[BodyFactory, int | None, bool]:
    """A body factory streaming `file` from where it is, its length if known, and whether it rewinds."""
    seekable = file.seekable()
    start = file.tell() if seekable else 0
    size: int | None = None
    try:
        info = os.fstat(file.fileno())
        if stat.S_ISREG(info.st_mode):
            size = info.st_size - start
    except (AttributeError, OSError, ValueError):  # no file descriptor (e.g. BytesIO)
        if seekable:
            size = file.seek(0, os.SEEK_END) - start
            file.seek(start)

    def chunks() -> Iterator[bytes]:
        if seekable:
            file.seek(start)
        while chunk := file.read(CHUNK_SIZE):
            yield chunk

    return chunks, size, seekable
