"""`python -m deploy <stage> bootstrap|plan|apply|destroy`: build → upload → plan → apply → migrate → outputs.

- bootstrap: on a stage's first deploy, plan and apply the registry module alone (image repositories
  and the artifacts bucket), which must exist before images are pushed and zips uploaded.
- build: `make dist`'s wheels and Lambda zips (skip with --skip-build to reuse --dist).
- init: the stage's root under terraform/envs/, its committed lock file read-only.
- upload (dev, staging, prod): each zip into the stage's artifacts bucket under its content hash.
- plan: saved to a plan file (--out), with the zips' keys (local: paths), the image tag and any --var;
  `plan` stops here.
- apply: apply exactly a saved plan (--plan, required but for local: never a new plan); destroy plans
  the destruction and applies that plan.
- migrate (apply only): report the migration the apply ran (the stage's migration function, invoked before the
  new code; invoked here instead when the stage sets `run_migrations = false`; see deploy.migrate).
- outputs: the stage's Terraform outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deploy.artifacts import ArtifactError, image_tags, upload_zips
from deploy.dist import REPO_ROOT, build
from deploy.migrate import migrate
from deploy.terraform import StageTerraform

STAGES = ("local", "dev", "staging", "prod")
ACTIONS = ("bootstrap", "plan", "apply", "destroy")
# What `bootstrap` applies alone: what must exist before the pipeline pushes images and uploads zips.
BOOTSTRAP_TARGETS = ("module.registry",)
ARTIFACTS_BUCKET_OUTPUT = "s3_artifacts_bucket_id"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    terraform = StageTerraform(args.terraform_dir / "envs" / args.stage)
    if args.action == "apply" and args.plan is None and args.stage != "local":
        raise SystemExit(
            f"{args.stage}: apply needs --plan PLANFILE, the plan file `python -m deploy {args.stage} plan "
            "--out PLANFILE` wrote and someone reviewed: a stage never applies a plan nobody saw"
        )
    if args.action == "apply" and args.plan is not None:
        if not args.plan.is_file():
            raise SystemExit(f"--plan: {args.plan} is not a plan file")
        _say(f"{args.stage}: init")
        terraform.init()
        _say(f"{args.stage}: apply {args.plan}")
        terraform.apply(args.plan.resolve(), keep=True)
        return _after_apply(args, terraform)
    # The zips first: a missing build is told before Terraform starts.
    zips = None if args.action == "bootstrap" else _artifacts(args.dist, skip_build=args.skip_build)
    _say(f"{args.stage}: init")
    terraform.init()
    if zips is None:
        _say(f"{args.stage}: plan ({', '.join(BOOTSTRAP_TARGETS)} only)")
        # The stages' roots require the image tags even for a targeted plan; zips are not needed yet.
        try:
            tags = {} if args.stage == "local" else {"image_tags": image_tags(commit=args.commit)}
        except ArtifactError as exc:
            raise SystemExit(f"{args.stage}: {exc}") from None
        plan = terraform.plan({**tags, **dict(args.var)}, targets=BOOTSTRAP_TARGETS)
        _say(f"{args.stage}: apply")
        terraform.apply(plan)
        _print_outputs(terraform.outputs())
        return 0
    try:
        variables: dict[str, Any] = {**_code_variables(args, terraform, zips), **dict(args.var)}
    except ArtifactError as exc:
        raise SystemExit(f"{args.stage}: {exc}") from None
    _say(f"{args.stage}: plan ({'destroy' if args.action == 'destroy' else 'changes'})")
    plan = terraform.plan(variables, destroy=args.action == "destroy", out=args.out)
    if args.action == "plan":
        _say(f"{args.stage}: plan saved to {plan}")
        return 0
    _say(f"{args.stage}: {args.action}")
    terraform.apply(plan)
    if args.action == "destroy":
        return 0
    return _after_apply(args, terraform)


def _code_variables(
    args: argparse.Namespace, terraform: StageTerraform, zips: dict[str, Path]
) -> dict[str, Any]:
    """The Terraform variables that name the code: the zips, and each image's tag."""
    if args.stage == "local":
        # The emulator's functions read the zips from disk; no image is pulled there.
        return {"api_zip_path": str(zips["api"]), "checksum_zip_path": str(zips["checksum"])}
    bucket = terraform.outputs().get(ARTIFACTS_BUCKET_OUTPUT, {}).get("value")
    if not bucket:
        raise ArtifactError(
            f"no artifacts bucket in the state yet: run `python -m deploy {args.stage} bootstrap` once first "
            "(docs/deployment.md, First deploy)"
        )
    _say(f"{args.stage}: upload zips to s3://{bucket}")
    artifacts = upload_zips(bucket, zips, _s3_client())
    variables: dict[str, Any] = {"image_tags": image_tags(commit=args.commit)}
    for name, artifact in artifacts.items():
        _say(f"{args.stage}: {name}.zip is s3://{bucket}/{artifact.key}")
        variables[f"{name}_zip_s3_key"] = artifact.key
        variables[f"{name}_zip_sha256"] = artifact.sha256_base64
    return variables


def _s3_client() -> Any:
    import boto3  # noqa: PLC0415 - only the stages on AWS need it

    make_client: Any = boto3.client
    return make_client("s3")


def _after_apply(args: argparse.Namespace, terraform: StageTerraform) -> int:
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
    parser.add_argument(
        "action",
        choices=ACTIONS,
        help="bootstrap a new stage's registry, plan only, apply a saved plan, or destroy the stage",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="plan: where to save the plan file (default: deploy.tfplan in the stage's root)",
    )
    parser.add_argument(
        "--plan",
        type=Path,
        default=None,
        help="apply: the saved plan file to apply, exactly (required for dev, staging and prod)",
    )
    parser.add_argument(
        "--commit",
        default=None,
        help="commit whose images to run, tagged <package version>-<commit> (default: CI_COMMIT_SHA or HEAD)",
    )
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
