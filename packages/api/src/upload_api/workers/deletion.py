"""Area deletion: delete the area's objects in batches, resumably, then mark the area and its files
DELETED (rows are kept). Idempotent: a redelivered or stale message changes nothing.

Deletion wins over writes in flight. The prefix is listed again after every batch and the area is marked
DELETED only once a listing comes back empty, so objects that landed meanwhile go too (names the service
refuses included: `ObjectStore.delete_many` takes them). Whatever lands after that last listing is
deleted by whoever sees it: the checksum worker on the object's event (an S3 write with credentials
issued before the deletion), the API after a PUT that streamed meanwhile
(`upload_common.domain.areas.area_for_finished_upload`)."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable

from upload_api.context import ApiContext
from upload_common import messages
from upload_common.domain import areas
from upload_common.statuses import AreaStatus

logger = logging.getLogger(__name__)

DELETE_BATCH = 1000  # S3 DeleteObjects' limit


def handle_deletion_message(
    context: ApiContext, body: str, *, time_left: Callable[[], float] | None = None
) -> None:
    """Per-record function of the deletion queue. `time_left()` (seconds) bounds one run; when it runs
    short the area is re-queued and the next run resumes where this one stopped."""
    area_uuid = messages.parse(body, messages.AREA_DELETION)["area_uuid"]
    delete_area(context, str(area_uuid), time_left=time_left)


def delete_area(context: ApiContext, area_uuid: str, *, time_left: Callable[[], float] | None = None) -> bool:
    """Delete what is left of the area; True when it is DELETED, False when it was re-queued."""
    with context.sessions.begin() as session:
        if not areas.begin_deletion(session, area_uuid):
            # Already deleted, or a message whose request never committed: nothing to do.
            area = areas.find_area(session, area_uuid)
            return area is not None and area.status is AreaStatus.DELETED

    prefix = f"{area_uuid}/"  # the trailing slash keeps a longer id with the same start out
    deleted = 0
    while True:  # until a listing after the last batch is empty: objects land while we delete
        keys = [
            info.key
            for info in itertools.islice(context.store.list(prefix, page_size=DELETE_BATCH), DELETE_BATCH)
        ]
        if not keys:
            break
        context.store.delete_many(keys)
        deleted += len(keys)
        if time_left is not None and time_left() <= 0:
            _requeue(context, area_uuid)
            logger.info("area %s: %d objects deleted so far; re-queued to continue", area_uuid, deleted)
            return False

    with context.sessions.begin() as session:
        done = areas.complete_deletion(session, area_uuid)
    if done:
        logger.info("area %s deleted (%d objects in this run)", area_uuid, deleted)
    return done


def _requeue(context: ApiContext, area_uuid: str) -> None:
    with context.sessions.begin() as session:
        paused = areas.pause_deletion(session, area_uuid)
    if paused:
        context.queue("deletion").send(messages.area_deletion(area_uuid))


def deadline_after(seconds: float) -> Callable[[], float]:
    """A `time_left` function for a run that may take `seconds`."""
    end = time.monotonic() + seconds
    return lambda: end - time.monotonic()
