"""`upload-checksum`: the checksum worker and the checksum job, each as its own process.

    upload-checksum worker       consume the checksum queue (and reap stalled runs when idle)
    upload-checksum run URL      the checksum job for one large object (reports to the API)

Settings come from the `UPLOAD_*` environment (DESIGN §8).
"""

from __future__ import annotations

import argparse
import logging
import sys

from upload_checksum.job_settings import ChecksumJobSettings
from upload_checksum.reaper import reap
from upload_checksum.run_job import main_run
from upload_checksum.worker import handle_record
from upload_common.consumers import every, run_consumer, stop_on_signals
from upload_common.errors import UploadError
from upload_common.service_context import build_service_context
from upload_common.settings import Settings, load_settings

logger = logging.getLogger("upload_checksum")
REAP_EVERY_SECONDS = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="upload-checksum", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("worker", help="consume the checksum queue")
    run = commands.add_parser("run", help="checksum one object as a job and report to the API")
    run.add_argument("url", help="the object's URL in the configured store")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "run":
            return main_run(args.url, load_settings(ChecksumJobSettings))
        return _worker()
    except UploadError as exc:
        print(f"upload-checksum: {exc}", file=sys.stderr)  # noqa: T201 - a command's own error output
        return 2


def _worker() -> int:
    context = build_service_context(load_settings(Settings))
    stop = stop_on_signals()
    logger.info("checksum worker started")
    # The embedded worker has no size limit: no Lambda time limit applies to it.
    run_consumer(
        context.queue("checksum"),
        lambda body: handle_record(context, body),
        stop,
        on_idle=every(REAP_EVERY_SECONDS, lambda: reap(context)),
    )
    logger.info("checksum worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
