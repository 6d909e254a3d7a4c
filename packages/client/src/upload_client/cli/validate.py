"""`dcp-upload validate --area UUID --validator IMAGE [--env NAME=VALUE ...] FILE...` (needs the API key)."""

from __future__ import annotations

import argparse
from typing import Any

from upload_client.cli.common import EXIT_OK, Invocation, UsageError


def register(commands: Any, options: argparse.ArgumentParser) -> None:
    text = "run a validator image against files of an area (in this order); prints the validation id"
    command = commands.add_parser("validate", help=text, description=text, parents=[options])
    command.add_argument("--area", metavar="UUID", required=True, help="the area's UUID")
    command.add_argument("--validator", metavar="IMAGE", required=True, help="the validator's image")
    command.add_argument(
        "--env",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="an environment variable for the validator (repeatable; the service checks the names)",
    )
    command.add_argument("files", metavar="FILE", nargs="+", help="names of files in the area")
    command.set_defaults(run=_validate)


def _validate(invocation: Invocation) -> int:
    args = invocation.args
    environment = _environment(args.env)
    api = invocation.client(needs_key=True)
    if len(args.files) == 1:
        answer = api.validate_file(args.area, args.files[0], args.validator, environment=environment)
    else:
        answer = api.validate_files(args.area, args.files, args.validator, environment=environment)
    if invocation.json:
        invocation.print_json(answer)
    else:
        invocation.stdout.write(answer["validation_id"] + "\n")
    return EXIT_OK


def _environment(pairs: list[str]) -> dict[str, str] | None:
    environment: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise UsageError(f"--env takes NAME=VALUE, not {pair!r}")
        environment[name] = value
    return environment or None
