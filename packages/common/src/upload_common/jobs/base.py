"""The `JobRunner` interface: pin an image to its digest, submit a container job, describe it, cancel it."""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from upload_common.errors import InvalidInputError


class JobState(enum.StrEnum):
    """Where a job is; SUCCEEDED and FAILED are final."""

    SUBMITTED = "SUBMITTED"  # accepted, not running yet (Batch: SUBMITTED, PENDING, RUNNABLE, STARTING)
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def final(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED)


@dataclass(frozen=True)
class JobSpec:
    """What to run: `command` runs in `image` with `environment`, limited to the resources and time."""

    name: str
    image: str
    command: Sequence[str]
    environment: Mapping[str, str] = field(default_factory=dict)
    vcpus: int = 1
    memory_mib: int = 2048
    timeout_seconds: int = 3600

    def __post_init__(self) -> None:
        if self.vcpus < 1 or self.memory_mib < 1 or self.timeout_seconds < 1:
            raise InvalidInputError("vcpus, memory_mib and timeout_seconds must be positive")


@dataclass(frozen=True)
class ResolvedImage:
    """An image pinned to its content: submit `reference`, and the job runs what `digest` names."""

    reference: str
    digest: str  # sha256:<64 hex>


@dataclass(frozen=True)
class JobStatus:
    """What `describe` tells: the state, and for a FAILED job always a reason. `interrupted`: the job
    was lost with the machine it ran on (Batch: a Spot interruption or instance termination; local: its
    supervisor died), not ended by its own code, so running it again may succeed."""

    job_id: str
    state: JobState
    reason: str | None = None
    exit_code: int | None = None
    interrupted: bool = False


class JobRunner(abc.ABC):
    """Runs container jobs. Implementations raise only domain errors: `JobNotFoundError` for an
    unknown job id, `JobRefusedError` for a job that submitting again cannot help (an unknown image, a
    request the provider calls invalid), `JobRunnerError` for anything else (it may pass)."""

    @abc.abstractmethod
    def resolve_image(self, image: str) -> ResolvedImage:
        """`image` pinned to its digest, for a `JobSpec` that runs exactly that content; an image that
        cannot be pinned here raises `JobRefusedError` (saying why)."""

    @abc.abstractmethod
    def submit(self, spec: JobSpec) -> str:
        """Start the job; return its id."""

    @abc.abstractmethod
    def describe(self, job_id: str) -> JobStatus:
        """The job's current state (with the reason and exit code once it has ended)."""

    @abc.abstractmethod
    def cancel(self, job_id: str, reason: str = "cancelled") -> None:
        """Stop the job (its whole process tree); a job that has already ended is left as it is."""
