"""`upload-checksum`: the checksum worker and the checksum job, each as its own process.

    upload-checksum worker       consume the checksum queue (and reap stalled runs when idle)
    upload-checksum run URL      the checksum job for one large object (reports to the API)
    upload-checksum reconcile    queue stored objects the service never processed; re-verify a sample

Settings come from the `UPLOAD_*` environment (DESIGN §8).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from upload_checksum.job_settings import ChecksumJobSettings
from upload_checksum.reaper import reap
from upload_checksum.reconcile import reconcile
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
    _add_reconcile(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "run":
            return main_run(args.url, load_settings(ChecksumJobSettings))
        if args.command == "reconcile":
            return _reconcile(args)
        return _worker()
    except UploadError as exc:
        print(f"upload-checksum: {exc}", file=sys.stderr)  # noqa: T201 - a command's own error output
        return 2


def _add_reconcile(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "reconcile", help="queue stored objects the service never processed; re-verify a sample"
    )
    command.add_argument("--area", metavar="UUID", help="only this area (default: every processed area)")
    command.add_argument("--dry-run", action="store_true", help="report what would be queued; queue nothing")
    command.add_argument(
        "--verify-sample",
        metavar="N",
        type=float,
        default=0,
        help="also re-read N checksummed files (or a fraction 0<N<1 of them) and compare their checksums;"
        " exit status 1 when any differs",
    )
    command.add_argument("--json", action="store_true", help="print the report as JSON")


def _reconcile(args: argparse.Namespace) -> int:
    context = build_service_context(load_settings(Settings))
    report = reconcile(context, area_uuid=args.area, dry_run=args.dry_run, verify_sample=args.verify_sample)
    print(json.dumps(report.as_dict()) if args.json else report.summary())  # noqa: T201 - the command's output
    return 1 if report.mismatched else 0


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
