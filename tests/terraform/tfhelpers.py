"""Run the real `terraform` binary with providers from a filesystem mirror, and a moto server to apply to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
KNOWN_MIRRORS = ("/opt/tf-plugins", "~/.terraform.d/plugins", "/usr/local/share/terraform/plugins")
AWS_PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"
MODULES = (
    "network",
    "database",
    "storage",
    "lambda_function",
    "api",
    "workers",
    "batch",
    "upload_service",
    "registry",
    "monitoring",
)
ENVS = ("dev", "staging", "prod", "local")


def build_dist(out: Path, packages: Path) -> dict[str, Path]:
    """Run `python -m deploy.dist` (as `make dist` does) on `packages`; return the Lambda zips by name."""
    subprocess.run(
        [sys.executable, "-m", "deploy.dist", "--out", str(out), "--packages", str(packages)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    return {name: out / "lambda" / f"{name}.zip" for name in ("api", "checksum")}


def find_plugin_mirror() -> Path | None:
    """The filesystem mirror that holds hashicorp/aws: UPLOAD_TF_PLUGIN_MIRROR, else a known path."""
    candidates = [os.environ["UPLOAD_TF_PLUGIN_MIRROR"]] if os.environ.get("UPLOAD_TF_PLUGIN_MIRROR") else []
    for candidate in [*candidates, *KNOWN_MIRRORS]:
        path = Path(candidate).expanduser()
        if (path / AWS_PROVIDER).is_dir():
            return path
    return None


def cli_config(mirror: Path, cache: Path) -> str:
    """A Terraform CLI configuration that installs providers from `mirror` and never from the network."""
    return f"""provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["registry.terraform.io/*/*"]
  }}
  direct {{
    exclude = ["registry.terraform.io/*/*"]
  }}
}}
plugin_cache_dir = "{cache}"
"""


@dataclass(frozen=True)
class Terraform:
    """The terraform binary with an environment that pins it to the mirror, over a copy of terraform/."""

    binary: str
    tree: Path
    env: dict[str, str]

    @classmethod
    def configure(cls, *, binary: str, mirror: Path, home: Path, tree: Path) -> Terraform:
        cache = home / "plugin-cache"
        cache.mkdir()
        config = home / "terraform.rc"
        config.write_text(cli_config(mirror, cache))
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(config),
            "TF_PLUGIN_CACHE_DIR": str(cache),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        return cls(binary=binary, tree=tree, env=env)

    def run(
        self, where: Path, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run `terraform <args>` in `where`; on failure (with check) raise with the output in the message."""
        result = subprocess.run(
            [self.binary, *args, "-no-color"],
            cwd=where,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} in {where} exited {result.returncode}\n"
                f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
            )
        return result

    def init(self, where: Path, *extra: str) -> None:
        self.run(where, "init", "-input=false", *extra)

    def show_state(self, where: Path) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.run(where, "show", "-json").stdout)
        return state


def state_resources(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every managed resource of a `terraform show -json` state, in every module."""
    found: list[dict[str, Any]] = []
    pending = [state.get("values", {}).get("root_module", {})]
    while pending:
        module = pending.pop()
        found.extend(r for r in module.get("resources", []) if r.get("mode") == "managed")
        pending.extend(module.get("child_modules", []))
    return found
