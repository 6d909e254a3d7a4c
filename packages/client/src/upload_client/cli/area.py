"""`dcp-upload area create|delete|lock|unlock UUID` (each needs the API key)."""

from __future__ import annotations

import argparse
from typing import Any

from upload_client.cli.common import EXIT_OK, Invocation


def register(commands: Any, options: argparse.ArgumentParser) -> None:
    area = commands.add_parser("area", help="create, delete, lock or unlock an upload area")
    actions = area.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, run, text in (
        ("create", _create, "create the area (idempotent); prints its URI"),
        ("delete", _delete, "queue the area's deletion"),
        ("lock", _lock, "refuse further uploads to the area"),
        ("unlock", _unlock, "accept uploads to the area again"),
    ):
        action = actions.add_parser(name, help=text, description=text, parents=[options])
        action.add_argument("area", metavar="UUID", help="the area's UUID")
        action.set_defaults(run=run)


def _create(invocation: Invocation) -> int:
    answer = invocation.client(needs_key=True).create_area(invocation.args.area)
    if invocation.json:
        invocation.print_json(answer)
    else:
        invocation.stdout.write(answer["uri"] + "\n")
    return EXIT_OK


def _delete(invocation: Invocation) -> int:
    answer = invocation.client(needs_key=True).delete_area(invocation.args.area)
    if invocation.json:
        invocation.print_json(answer)
    else:
        invocation.stdout.write(f"{answer['area_uuid']} {answer['status']}\n")
    return EXIT_OK


def _lock(invocation: Invocation) -> int:
    invocation.client(needs_key=True).lock_area(invocation.args.area)
    return _done(invocation, "locked")


def _unlock(invocation: Invocation) -> int:
    invocation.client(needs_key=True).unlock_area(invocation.args.area)
    return _done(invocation, "unlocked")


def _done(invocation: Invocation, state: str) -> int:
    if invocation.json:
        invocation.print_json({"area_uuid": invocation.args.area, "status": state})
    else:
        invocation.stdout.write(f"{invocation.args.area} {state}\n")
    return EXIT_OK
