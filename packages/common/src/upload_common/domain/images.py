"""Validator images: what an image reference is, and which images may run (`UPLOAD_VALIDATOR_IMAGES`).

A validator image is chosen by the caller and is untrusted code, so it must be a well-formed reference
(the Docker reference grammar, `sha256` digests only) that the allow-list admits. The API checks it
when a validation is requested and the scheduler again before it submits the job (the list may have
changed in between).

Allow-list entries are compared as written (no `docker.io/library/` normalisation):

- an entry ending in `/` is a registry or repository prefix: it admits every image whose name starts
  with it (`…amazonaws.com/dcp-upload-validators/` admits `…amazonaws.com/dcp-upload-validators/x:1`);
- any other entry is an exact reference: it admits an image with the same name and tag, and, when the
  entry carries a digest, that digest. A digest added to a listed name pins content of that
  repository: `quay.io/hca/fastq:1` admits `quay.io/hca/fastq:1@sha256:…`, `quay.io/hca/fastq` admits
  `quay.io/hca/fastq@sha256:…`; neither admits another tag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from upload_common.errors import ConfigurationError, ImageNotAllowedError, InvalidImageReferenceError

if TYPE_CHECKING:
    from upload_common.settings import Settings

NAME_MAX_LENGTH = 255  # the Docker reference grammar's limit on the name (registry and path)
DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?",
    re.ASCII,
)
_TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
GRAMMAR = "[registry[:port]/]path[:tag][@sha256:<64 hex>], lowercase path components"


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference: `[registry/]path[:tag][@digest]`."""

    registry: str | None
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.path}" if self.registry else self.path

    @property
    def without_digest(self) -> str:
        return f"{self.name}:{self.tag}" if self.tag else self.name

    def __str__(self) -> str:
        return f"{self.without_digest}@{self.digest}" if self.digest else self.without_digest


def parse_image_reference(image: str) -> ImageReference:
    """`image` parsed, or `InvalidImageReferenceError` saying what is wrong with it."""
    problem = _problem(image)
    if isinstance(problem, str):
        shown = image if len(image) <= 100 else image[:100] + "…"
        raise InvalidImageReferenceError(
            f"validator image {shown!r} is not a valid image reference ({problem}); expected {GRAMMAR}"
        )
    return problem


def check_validator_image(image: str, allowed: Sequence[str]) -> ImageReference:
    """`image`, parsed, if it is a valid reference that an entry of `allowed` admits; otherwise
    `InvalidImageReferenceError` or `ImageNotAllowedError` (both say why)."""
    reference = parse_image_reference(image)
    if any(_admits(entry, reference) for entry in allowed):
        return reference
    if not allowed:
        raise ImageNotAllowedError(
            f"validator image {image!r} is not allowed: UPLOAD_VALIDATOR_IMAGES is empty, no image is"
        )
    raise ImageNotAllowedError(
        f"validator image {image!r} is not allowed; the allowed images are: {', '.join(allowed)} "
        "(an entry ending in '/' admits every image under it; see UPLOAD_VALIDATOR_IMAGES)"
    )


def check_allow_entry(entry: str) -> str:
    """`entry` if it is a valid allow-list entry (a reference, or a name prefix ending in `/`)."""
    if not entry.endswith("/"):
        parse_image_reference(entry)
        return entry
    # A prefix is valid when some image can be under it: the prefix plus one more path component.
    problem = _problem(entry + "x")
    if isinstance(problem, str) or problem.tag or problem.digest:
        raise InvalidImageReferenceError(
            f"{entry!r} is not a valid prefix: a registry or repository name followed by '/'"
        )
    return entry


def allowed_validator_images(settings: Settings) -> tuple[str, ...]:
    """The allow-list in force: `UPLOAD_VALIDATOR_IMAGES`, or else, on the local runner, the images
    that have a local command (the built-in validators and `UPLOAD_VALIDATORS`). On AWS Batch the list
    must be given: there is no default of images that may run there (`ConfigurationError`)."""
    if settings.validator_images is not None:
        return settings.validator_images
    if settings.job_runner != "local":
        raise ConfigurationError(
            "UPLOAD_VALIDATOR_IMAGES must be set when UPLOAD_JOB_RUNNER=aws-batch: the validator images "
            "(exact references, or registry/repository prefixes ending in '/') that callers may run; "
            "an empty list admits none"
        )
    from upload_common.validators import validator_commands  # noqa: PLC0415 - the local runner's images

    images = tuple(validator_commands(settings))
    for image in images:
        try:
            parse_image_reference(image)
        except InvalidImageReferenceError as exc:
            raise ConfigurationError(f"UPLOAD_VALIDATORS: {exc}") from None
    return images


def _admits(entry: str, reference: ImageReference) -> bool:
    if entry.endswith("/"):
        return reference.name.startswith(entry)
    try:
        listed = parse_image_reference(entry)
    except InvalidImageReferenceError:
        return False  # settings refuse such entries; a hand-built list may still hold one
    return (
        listed.name == reference.name
        and listed.tag == reference.tag
        and (listed.digest is None or listed.digest == reference.digest)
    )


def _problem(image: str) -> ImageReference | str:
    """The parsed reference, or what is wrong with `image`."""
    if not image or not image.isascii() or not image.isprintable() or " " in image:
        return "empty, or not printable ASCII without spaces"
    rest, at, digest = image.partition("@")
    if at and not DIGEST.fullmatch(digest):
        return "a digest is sha256: and 64 lowercase hex digits"
    name, tag = rest, None
    last = rest.rfind(":")
    if last > rest.rfind("/"):
        name, tag = rest[:last], rest[last + 1 :]
        if not _TAG.fullmatch(tag):
            return f"bad tag {tag!r}: letters, digits, '_', '.', '-', up to 128, not starting with '.' or '-'"
    if len(name) > NAME_MAX_LENGTH:
        return f"the name is longer than {NAME_MAX_LENGTH} characters"
    parts = _name_parts(name)
    if isinstance(parts, str):
        return parts
    return ImageReference(parts[0], parts[1], tag, digest or None)


def _name_parts(name: str) -> tuple[str | None, str] | str:
    """(registry, path) of a name, or what is wrong with it."""
    first, slash, remainder = name.partition("/")
    # As Docker decides: the first component is a registry when it looks like a host name.
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not _DOMAIN.fullmatch(first):
            return f"bad registry {first!r}"
        registry, path = first, remainder
    else:
        registry, path = None, name
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            return f"bad path component {component!r}: lowercase letters, digits and '.', '_', '__', '-'"
    return registry, path
