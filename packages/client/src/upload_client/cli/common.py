"""What every command shares: the common options, the client, output (table or plain) and errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from upload_client.client import Client
from upload_client.retry import Retry

EXIT_OK = 0
EXIT_BAD_STATE = 1  # a file is in a bad final state (or `status --wait` timed out)
EXIT_USAGE = 2
EXIT_API = 3
EXIT_CONNECTION = 4
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT

API_VARIABLE = "DCP_UPLOAD_API"
API_KEY_VARIABLE = "DCP_UPLOAD_API_KEY"
ATTEMPTS = 3  # connection errors, 429 and 5xx are retried this many times in all


class UsageError(Exception):
    """A usage error found after parsing (exit 2)."""


def common_options() -> argparse.ArgumentParser:
    """Options accepted before or after the command; SUPPRESS keeps a subcommand from resetting them."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("common options")
    group.add_argument(
        "--api", metavar="URL", default=argparse.SUPPRESS, help=f"the API's root URL (or ${API_VARIABLE})"
    )
    group.add_argument(
        "--api-key", metavar="KEY", default=argparse.SUPPRESS, help=f"the API key (or ${API_KEY_VARIABLE})"
    )
    group.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable JSON output"
    )
    return options


class Invocation:
    """One run of a command: its arguments, the injected sleep and clock, and the client it opens."""

    def __init__(
        self,
        args: argparse.Namespace,
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        argv: Sequence[str] = (),
    ) -> None:
        self.args = args
        self.argv = list(argv)  # as typed (`upload` prints it back, secrets hidden, to resume)
        self.sleep = sleep
        self.clock = clock
        self.json: bool = getattr(args, "json", False)
        self.stdout: IO[str] = sys.stdout
        self.stderr: IO[str] = sys.stderr
        self._api_key: str | None = getattr(args, "api_key", None) or os.environ.get(API_KEY_VARIABLE) or None
        self._client: Client | None = None
        self._secrets = [self._api_key] if self._api_key else []

    @property
    def has_key(self) -> bool:
        return bool(self._api_key)

    def client(
        self, *, needs_key: bool = False, url: str | None = None, submitter_link: str | None = None
    ) -> Client:
        """The client (opened once); `url` and `submitter_link` come from a submitter link when given."""
        if self._client is None:
            url = url or getattr(self.args, "api", None) or os.environ.get(API_VARIABLE)
            if not url:
                raise UsageError(f"the API's URL is needed: --api URL or ${API_VARIABLE}")
            if needs_key and not self._api_key:
                raise UsageError(f"this command needs an API key: --api-key KEY or ${API_KEY_VARIABLE}")
            if submitter_link:
                self._secrets.append(submitter_link)
            self._client = Client(
                url,
                self._api_key,
                retries=Retry(attempts=ATTEMPTS, sleep=self.sleep),
                submitter_link=submitter_link,
            )
        return self._client

    def scrub(self, text: str) -> str:
        """`text` without the API key or a link's token (the client's errors never hold them; this is a
        second guard)."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def print_json(self, value: Any) -> None:
        json.dump(value, self.stdout, indent=2)
        self.stdout.write("\n")

    def print_rows(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """A compact aligned table on a terminal; tab-separated lines without a header otherwise."""
        cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
        if not self.stdout.isatty():
            for row in cells:
                self.stdout.write("\t".join(row) + "\n")
            return
        widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(header)]
        for row in [list(header), *cells]:
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def fail(invocation: Invocation, message: str, code: int) -> int:
    """One line on stderr, never a traceback, never the key."""
    invocation.stderr.write(invocation.scrub(message) + "\n")
    return code
