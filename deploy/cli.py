"""`python -m deploy <stage> plan|apply|destroy`: build → init → plan → apply → migrate → outputs.

- build: `make dist`'s wheels and Lambda zips (skip with --skip-build to reuse --dist).
- init: the stage's root under terraform/envs/, its committed lock file read-only.
- plan: saved to a plan file, with the zips' paths and any --var; `plan` stops here.
- apply / destroy: apply exactly the saved plan.
- migrate (apply only): `upload-db upgrade` against the stage's database (see deploy.migrate).
- outputs: the stage's Terraform outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deploy.dist import REPO_ROOT, build
from deploy.migrate import migrate
from deploy.terraform import StageTerraform

STAGES = ("local", "dev", "staging", "prod")
ACTIONS = ("plan", "apply", "destroy")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    zips = _artifacts(args.dist, skip_build=args.skip_build)
    terraform = StageTerraform(args.terraform_dir / "envs" / args.stage)
    variables = {
        "api_zip_path": str(zips["api"]),
        "checksum_zip_path": str(zips["checksum"]),
        **dict(args.var),
    }
    _say(f"{args.stage}: init")
    terraform.init()
    _say(f"{args.stage}: plan ({'destroy' if args.action == 'destroy' else 'changes'})")
    plan = terraform.plan(variables, destroy=args.action == "destroy")
    if args.action == "plan":
        return 0
    _say(f"{args.stage}: {args.action}")
    terraform.apply(plan)
    if args.action == "destroy":
        return 0
    outputs = terraform.outputs()
    if args.skip_migrate or args.stage == "local":
        # The local stage's database is an emulator's record, not a server that could be migrated.
        _say(f"{args.stage}: database migration skipped")
    else:
        _say(f"{args.stage}: database migration")
        migrate(outputs)
    _print_outputs(outputs)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES, help="the stage to deploy (terraform/envs/<stage>)")
    parser.add_argument("action", choices=ACTIONS, help="plan only, apply the plan, or destroy the stage")
    parser.add_argument(
        "--dist", type=Path, default=REPO_ROOT / "dist", help="artifacts folder (default: dist/)"
    )
    parser.add_argument("--skip-build", action="store_true", help="reuse the zips already in --dist")
    parser.add_argument("--skip-migrate", action="store_true", help="do not migrate the database after apply")
    parser.add_argument(
        "--var",
        type=_key_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra Terraform variable (repeatable), e.g. aws_endpoint_url=http://127.0.0.1:5000 for local",
    )
    parser.add_argument(
        "--terraform-dir",
        type=Path,
        default=REPO_ROOT / "terraform",
        help="the terraform/ tree (default: the repo's)",
    )
    return parser


def _key_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _artifacts(dist: Path, *, skip_build: bool) -> dict[str, Path]:
    if not skip_build:
        _say("build: wheels and Lambda zips")
        return build(dist)
    zips = {name: (dist / "lambda" / f"{name}.zip").resolve() for name in ("api", "checksum")}
    missing = [str(path) for path in zips.values() if not path.is_file()]
    if missing:
        raise SystemExit(f"--skip-build: missing {', '.join(missing)}; run `make dist` first")
    return zips


def _print_outputs(outputs: dict[str, Any]) -> None:
    visible = {name: o["value"] for name, o in outputs.items() if not o.get("sensitive")}
    sys.stdout.write(json.dumps(visible, indent=2, sort_keys=True) + "\n")


def _say(message: str) -> None:
    sys.stderr.write(f"==> {message}\n")
    sys.stderr.flush()
