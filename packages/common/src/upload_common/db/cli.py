"""`upload-db`: upgrade the service database to the latest schema, or show its revision."""

from __future__ import annotations

import argparse
import sys

from upload_common.db.migrate import current, upgrade
from upload_common.errors import UploadError
from upload_common.settings import Settings, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="upload-db", description=__doc__)
    parser.add_argument("command", choices=["upgrade", "current"])
    parser.add_argument("--url", help="database URL (default: UPLOAD_DATABASE_URL or the embedded SQLite)")
    parser.add_argument("--revision", default="head", help="target revision for upgrade (default: head)")
    args = parser.parse_args(argv)
    try:
        url = args.url or load_settings(Settings).database_url
        if args.command == "upgrade":
            upgrade(url, revision=args.revision)
        revision = current(url)
    except UploadError as exc:
        print(f"upload-db: {exc}", file=sys.stderr)  # noqa: T201 - a command's own output
        return 2
    print(f"database at revision {revision or '(empty)'}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
