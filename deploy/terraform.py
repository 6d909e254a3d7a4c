"""One stage's Terraform root driven through python-terraform, streaming Terraform's output to the log."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform, TerraformCommandError


class DeployError(Exception):
    """A Terraform step of the deploy failed; Terraform's own output says why."""


class StageTerraform:
    """init / plan / apply / output for the root module in `root` (terraform/envs/<stage>)."""

    def __init__(self, root: Path) -> None:
        if not (root / "main.tf").is_file():
            raise DeployError(f"{root} is not a Terraform root (no main.tf)")
        self.root = root
        self._tf = Terraform(
            working_dir=str(root), terraform_bin_path=os.environ.get("TERRAFORM", "terraform")
        )

    def init(self) -> None:
        # The lock file is committed: a deploy uses exactly the pinned provider and never rewrites it.
        self._run("init", input=False, lockfile="readonly", no_color=IsFlagged)

    def plan(
        self,
        variables: dict[str, Any],
        *,
        destroy: bool = False,
        out: Path | None = None,
        targets: Sequence[str] = (),
    ) -> Path:
        """Plan into a plan file (`out`, default deploy.tfplan in the root) and return its absolute path;
        the variables go through a temporary JSON tfvars; `targets` limits the plan to those addresses."""
        plan = (out or self.root / "deploy.tfplan").resolve()
        plan.parent.mkdir(parents=True, exist_ok=True)
        self._run(
            "plan",
            input=False,
            out=str(plan),
            var=variables,
            target=list(targets) or None,
            destroy=IsFlagged if destroy else None,
            no_color=IsFlagged,
        )
        return plan

    def apply(self, plan: Path, *, keep: bool = False) -> None:
        """Apply exactly the saved plan (no new plan, no prompt); remove the plan file unless `keep`
        (a pipeline's plan artifact stays the record of what was applied)."""
        try:
            self._run("apply", str(plan), input=False, no_color=IsFlagged)
        finally:
            if not keep:
                plan.unlink(missing_ok=True)

    def outputs(self) -> dict[str, Any]:
        out = self._run("output", json=IsFlagged, no_color=IsFlagged, capture=True)
        outputs: dict[str, Any] = json.loads(out)
        return outputs

    def _run(self, command: str, *args: str, capture: bool = False, **options: Any) -> str:
        try:
            # python-terraform logs failures with the deprecated Logger.warn; that is not ours to fix.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                _, out, _ = self._tf.cmd(
                    command, *args, capture_output=capture, raise_on_error=True, **options
                )
        except TerraformCommandError as exc:
            raise DeployError(f"terraform {command} failed in {self.root} (exit {exc.returncode})") from None
        return str(out or "")
