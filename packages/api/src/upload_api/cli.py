"""`upload-api`: run the API server or one of the api package's workers as its own process.

    upload-api serve [--host H] [--port P]   the REST API (uvicorn)
    upload-api deletion-worker               deletes areas queued for deletion (and, every minute,
                                             warns of and queues the deletion of expiring areas)
    upload-api validation-scheduler          submits validation jobs (and sweeps stuck validations
                                             and expired upload sessions)
    upload-api dispatcher                    delivers notifications to UPLOAD_INGEST_URL
    upload-api redeliver-notifications [--id UUID ...]
                                             makes FAILED notifications PENDING again
    upload-api health-report [--json] [--dry-run]
                                             prints the health report and posts it to
                                             UPLOAD_HEALTH_WEBHOOK_URL (not with --dry-run)

Settings come from the `UPLOAD_*` environment (DESIGN §8); the embedded default needs none.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from collections.abc import Callable

from upload_api.context import ApiContext, build_context
from upload_api.notify.health_webhook import post_health_report
from upload_api.workers.deletion import handle_deletion_message
from upload_api.workers.dispatcher import redeliver_failed, run_dispatcher
from upload_api.workers.expiry_sweep import sweep_expired_areas
from upload_api.workers.scheduler import handle_scheduling_message, validation_job_runner
from upload_api.workers.upload_sweep import sweep_upload_sessions
from upload_api.workers.validation_sweep import sweep
from upload_common.consumers import every, run_consumer, stop_on_signals
from upload_common.errors import UploadError
from upload_common.health_report import compute_health_report
from upload_common.settings import Settings, load_settings

logger = logging.getLogger("upload_api")
SWEEP_EVERY_SECONDS = 60.0


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0911 - one return per command
    parser = argparse.ArgumentParser(
        prog="upload-api", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the REST API")
    serve.add_argument("--host", help="listen address (default UPLOAD_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default UPLOAD_PORT or 8080)")
    commands.add_parser("deletion-worker", help="delete areas queued for deletion; sweep expired areas")
    commands.add_parser("validation-scheduler", help="submit validation jobs; sweep stuck validations")
    commands.add_parser("dispatcher", help="deliver notifications to UPLOAD_INGEST_URL")
    redeliver = commands.add_parser(
        "redeliver-notifications", help="make FAILED notifications PENDING again (all, or those named)"
    )
    redeliver.add_argument(
        "--id", dest="ids", type=uuid.UUID, action="append", metavar="UUID", help="a notification id"
    )
    health = commands.add_parser(
        "health-report", help="print the health report; post it to UPLOAD_HEALTH_WEBHOOK_URL"
    )
    health.add_argument("--json", action="store_true", help="print the report as JSON")
    health.add_argument("--dry-run", action="store_true", help="print the report; do not post it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # httpx logs every request's full URL at INFO: the health webhook's URL is a secret, and the
    # ingest URL may be one; our own lines say what was sent and how it ended.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load_settings(Settings)
        context = build_context(settings)
        if args.command == "serve":
            return _serve(context, args.host or settings.host, args.port or settings.port)
        if args.command == "dispatcher":
            return _dispatch(context)
        if args.command == "validation-scheduler":
            context.job_runner = validation_job_runner(settings)
            return _work(
                context,
                lambda body: handle_scheduling_message(context, body),
                "validation",
                on_idle=every(SWEEP_EVERY_SECONDS, lambda: _sweeps(context)),
            )
        if args.command == "health-report":
            return _health_report(context, as_json=args.json, dry_run=args.dry_run)
        if args.command == "redeliver-notifications":
            count = redeliver_failed(context, ids=args.ids)
            print(f"{count} notification(s) made PENDING for redelivery")  # noqa: T201 - the command's output
            return 0
        return _work(
            context,
            lambda body: handle_deletion_message(context, body),
            "deletion",
            on_idle=every(SWEEP_EVERY_SECONDS, lambda: sweep_expired_areas(context)),
        )
    except UploadError as exc:
        print(f"upload-api: {exc}", file=sys.stderr)  # noqa: T201 - a command's own error output
        return 2


def _sweeps(context: ApiContext) -> None:
    sweep(context)
    sweep_upload_sessions(context)  # expired upload sessions: their parts deleted


def _health_report(context: ApiContext, *, as_json: bool, dry_run: bool) -> int:
    report = compute_health_report(context)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))  # noqa: T201 - the command's output
    else:
        print(report.slack_message()["text"])  # noqa: T201 - the command's output
    if dry_run:
        return 0
    if context.settings.health_webhook_url is None:
        print("upload-api: UPLOAD_HEALTH_WEBHOOK_URL is not set: the report was not posted", file=sys.stderr)  # noqa: T201
        return 0
    post_health_report(context.settings, report)  # its failure: the command's UploadError exit
    print("upload-api: health report posted", file=sys.stderr)  # noqa: T201
    return 0


def _serve(context: ApiContext, host: str, port: int) -> int:
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from upload_api.app import create_app  # noqa: PLC0415

    generated = not context.settings.api_keys
    print(f"dcp-upload API on http://{host}:{port}  (spec: /v1/openapi.json, UI: /v1/ui)", flush=True)  # noqa: T201
    print(f"objects: {context.store.url}   database: {context.engine.url.render_as_string()}", flush=True)  # noqa: T201
    if generated:
        # Where the generated key is, never the key itself: this output ends up in logs.
        kept = context.settings.var_dir / "api_key"
        print(f"Api-Key: generated, kept in {kept}   (KEY=$(cat {kept}))", flush=True)  # noqa: T201
    uvicorn.run(create_app(context), host=host, port=port, log_level="info")
    return 0


def _work(
    context: ApiContext,
    handle: Callable[[str], object],
    queue_name: str,
    *,
    on_idle: Callable[[], None] | None = None,
) -> int:
    stop = stop_on_signals()
    logger.info("%s worker started", queue_name)
    run_consumer(context.queue(queue_name), handle, stop, on_idle=on_idle)
    logger.info("%s worker stopped", queue_name)
    return 0


def _dispatch(context: ApiContext) -> int:
    stop = stop_on_signals()
    logger.info("notification dispatcher started")
    report = run_dispatcher(context, stop)
    logger.info("notification dispatcher stopped: %s", report.as_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
