"""The state the API reports for a file version (`FileState`): one rule, as Python and as SQL.

A version's `FileStatus` says how its checksumming ended; while it has not ended, a run that is
SCHEDULED or CHECKSUMMING makes the state CHECKSUMMING, otherwise (no run yet, or the last one FAILED
and waits for a retry) it is UPLOADED. DELETED versions belong to deleted areas, which nothing lists.

The SQL form (`file_state_column`) lets listings, the summary and the report compute the state in the
query that reads the versions (one query per page, one aggregate for the summary), never per file.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, exists, select
from sqlalchemy.orm import Session

from upload_common.models import ChecksumRun, FileVersion
from upload_common.statuses import ChecksumStatus, FileState, FileStatus

ACTIVE_RUNS = frozenset({ChecksumStatus.SCHEDULED, ChecksumStatus.CHECKSUMMING})

_SETTLED = {
    FileStatus.CHECKSUMMED: FileState.CHECKSUMMED,
    FileStatus.CORRUPT: FileState.CORRUPT,
    FileStatus.REJECTED: FileState.REJECTED,
}


def file_state(status: FileStatus, *, checksumming: bool) -> FileState:
    """The state of a version with `status`; `checksumming`: a run of it is scheduled or running."""
    settled = _SETTLED.get(status)
    if settled is not None:
        return settled
    return FileState.CHECKSUMMING if checksumming else FileState.UPLOADED


def _has_active_run() -> ColumnElement[bool]:
    return exists(
        select(ChecksumRun.id).where(
            ChecksumRun.file_id == FileVersion.id, ChecksumRun.status.in_(ACTIVE_RUNS)
        )
    )


def file_state_column() -> ColumnElement[str]:
    """`file_state` of each selected `FileVersion` row, as a column of the same query."""
    return case(
        *((FileVersion.status == status, state.value) for status, state in _SETTLED.items()),
        (_has_active_run(), FileState.CHECKSUMMING.value),
        else_=FileState.UPLOADED.value,
    ).label("state")


def state_of_version(session: Session, version: FileVersion) -> FileState:
    """`file_state` of one version (one query, only when its checksumming has not ended)."""
    if version.status in _SETTLED:
        return _SETTLED[version.status]
    active = session.scalar(
        select(
            exists(
                select(ChecksumRun.id).where(
                    ChecksumRun.file_id == version.id, ChecksumRun.status.in_(ACTIVE_RUNS)
                )
            )
        )
    )
    return file_state(version.status, checksumming=bool(active))
