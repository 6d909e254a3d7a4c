"""`upload-checksum run <object url>`: the checksum job. Reports CHECKSUMMING, then CHECKSUMMED with the
checksums (after tagging the object), ABORTED when the object is not the expected version, or FAILED
with a reason; it never ends without a report unless the API cannot be reached at all."""

from __future__ import annotations

import logging

from upload_checksum.job_settings import ChecksumJobSettings
from upload_common.checksum_tags import write_checksum_tags
from upload_common.checksums import ProgressCallback, checksum_object
from upload_common.errors import CallbackError, ContentChangedError, InvalidInputError, ObjectNotFoundError
from upload_common.job_reports import Reporter
from upload_common.settings import Settings
from upload_common.storage import ObjectStore, open_store

logger = logging.getLogger(__name__)


def run_checksum_job(object_url: str, expected_etag: str, settings: Settings, reporter: Reporter) -> str:
    """Checksum the object (if it is still the version with `expected_etag`) and report; returns the final
    status reported."""
    try:
        store = open_store(settings)
        key = key_of(store, object_url)
        reporter.report("CHECKSUMMING", {})
        checksums = checksum_object(store, key, expected_etag=expected_etag, progress=_log_progress(key))
        write_checksum_tags(store, key, checksums, settings.checksum_tag_prefix)
    except (ContentChangedError, ObjectNotFoundError) as exc:
        reporter.report("ABORTED", {"reason": str(exc)})
        return "ABORTED"
    except CallbackError:
        raise
    except Exception as exc:
        logger.exception("checksum job failed")
        reporter.report("FAILED", {"reason": f"{type(exc).__name__}: {exc}"})
        return "FAILED"
    reporter.report("CHECKSUMMED", {"checksums": checksums.as_dict()})
    return "CHECKSUMMED"


def key_of(store: ObjectStore, object_url: str) -> str:
    """The key of `object_url` in `store` (the URL must point into it)."""
    base = store.url.rstrip("/") + "/"
    if not object_url.startswith(base) or len(object_url) == len(base):
        raise InvalidInputError(f"{object_url!r} is not an object of the store {store.url}")
    return object_url[len(base) :]


def main_run(object_url: str, settings: ChecksumJobSettings) -> int:
    """The job's process: checksum `object_url` and report; exit status 1 when the run FAILED."""
    reporter = Reporter(settings.callback_url, settings.callback_token.get_secret_value(), settings.job_id)
    status = run_checksum_job(object_url, settings.expected_etag, settings, reporter)
    logger.info("checksum job of run %s ended %s", settings.checksum_id, status)
    return 0 if status != "FAILED" else 1


def _log_progress(key: str) -> ProgressCallback:
    """Logs each whole GiB read: a job's log shows it is alive and how far it got."""
    logged = 0

    def progress(done: int, total: int | None) -> None:
        nonlocal logged
        if done - logged >= 1 << 30 or (done == total and logged != total):
            logged = done
            logger.info("%s: %d of %d bytes", key, done, total)

    return progress
