"""`upload-db`: upgrade the service database to the latest schema, or show its revision.

The database URL holds a password, so it never comes from the command line (every user of the machine
can read a process's arguments): it comes from UPLOAD_DATABASE_URL (default: the embedded SQLite), with
the user and password of UPLOAD_DATABASE_SECRET_ARN when set, or from a file with --url-file (`-` reads
it from standard input). Concurrent upgrades of one PostgreSQL database queue on an advisory lock.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from upload_common.db.migrate import current, upgrade
from upload_common.errors import ConfigurationError, UploadError
from upload_common.secrets_manager import with_secrets
from upload_common.settings import Settings, load_settings

URL_REFUSED = (
    "a database URL is not accepted on the command line, where every user of the machine can read its "
    "password; set UPLOAD_DATABASE_URL, or pass --url-file PATH (- for standard input)"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse quotes the arguments it refuses: a URL among them would show its password.
        super().error(URL_REFUSED if "://" in message else message)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="upload-db", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=["upgrade", "current"])
    parser.add_argument(
        "--url-file",
        metavar="PATH",
        help="read the database URL from PATH (- for standard input) instead of UPLOAD_DATABASE_URL",
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)  # removed: refused below, its value unechoed
    parser.add_argument("--revision", default="head", help="target revision for upgrade (default: head)")
    args = parser.parse_args(argv)
    try:
        if args.url is not None:
            raise ConfigurationError(f"--url: {URL_REFUSED}")
        url = _url(args.url_file)
        if args.command == "upgrade":
            upgrade(url, revision=args.revision)
        revision = current(url)
    except UploadError as exc:
        print(f"upload-db: {exc}", file=sys.stderr)  # noqa: T201 - a command's own output
        return 2
    print(f"database at revision {revision or '(empty)'}")  # noqa: T201
    return 0


def _url(url_file: str | None) -> str:
    if url_file is None:
        # The password may live in Secrets Manager (UPLOAD_DATABASE_SECRET_ARN), as on AWS.
        return with_secrets(load_settings(Settings)).database_url
    try:
        text = sys.stdin.read() if url_file == "-" else Path(url_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"--url-file: cannot read {url_file}: {exc}") from None
    if not text.strip():
        raise ConfigurationError(f"--url-file: {url_file} holds no database URL")
    return text.strip()


if __name__ == "__main__":
    sys.exit(main())
