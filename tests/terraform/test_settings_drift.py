"""Every `UPLOAD_*` name the Terraform code mentions is a field of the settings the code reads.

The applied local env checks the Lambdas' real environments (test_local_env); this check needs no
Terraform at all, so a renamed setting fails fast, in every run.
"""

from __future__ import annotations

import importlib
import re

from terraform.tfhelpers import REPO_ROOT
from upload_common.settings import ENV_PREFIX, Settings

NAME = re.compile(r"\bUPLOAD_[A-Z0-9_]+\b")
COMMENT = re.compile(r"(#|//).*$", re.MULTILINE)


def _names_in_terraform() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((REPO_ROOT / "terraform" / "modules").rglob("*.tf")):
        code = COMMENT.sub("", path.read_text())
        for name in NAME.findall(code):
            found.setdefault(name, []).append(str(path.relative_to(REPO_ROOT)))
    return found


def test_terraform_sets_only_settings_fields() -> None:
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    used = _names_in_terraform()
    unknown = {name: files for name, files in used.items() if name not in fields}
    assert not unknown, f"Terraform sets variables that no setting reads: {unknown}"


def test_the_wiring_is_all_there() -> None:
    used = set(_names_in_terraform())
    expected = {
        "UPLOAD_STORAGE_URL",
        "UPLOAD_QUEUE_URL",
        "UPLOAD_JOB_RUNNER",
        "UPLOAD_BATCH_JOB_QUEUE",
        "UPLOAD_BATCH_JOB_ROLE_ARN",
        "UPLOAD_BATCH_NAME_PREFIX",
        "UPLOAD_DATABASE_URL",
        "UPLOAD_DATABASE_SECRET_ARN",
        "UPLOAD_DATABASE_IAM_AUTH",
        "UPLOAD_DATABASE_USER",
        "UPLOAD_HEALTH_WEBHOOK_URL_SECRET_ARN",
        "UPLOAD_API_KEYS_SECRET_ARN",
        "UPLOAD_INGEST_SECRET_ARN",
        "UPLOAD_SECRET_KEY_SECRET_ARN",
        "UPLOAD_SUBMITTER_ROLE_ARN",
        "UPLOAD_STAGING_ROLE_ARN",
        "UPLOAD_PUBLIC_URL",
        "UPLOAD_INGEST_URL",
        "UPLOAD_CHECKSUM_INLINE_MAX_BYTES",
        "UPLOAD_AREA_TTL_SECONDS",
        "UPLOAD_AREA_EXPIRY_WARNING_SECONDS",
        "UPLOAD_CHECKSUM_JOB_IMAGE",
        "UPLOAD_VALIDATOR_IMAGES",
        "UPLOAD_CREDENTIALS_DURATION_SECONDS",
        "UPLOAD_INGEST_JWT_KEY_SECRET_ARN",
        "UPLOAD_INGEST_JWT_AUDIENCE",
    }
    assert expected <= used, f"missing from the Lambda environments: {sorted(expected - used)}"
    # Secret values are never wired: only the ARNs of the secrets that hold them.
    assert (
        not {
            "UPLOAD_API_KEYS",
            "UPLOAD_INGEST_SECRET",
            "UPLOAD_SECRET_KEY",
            "UPLOAD_INGEST_JWT_KEY",
            "UPLOAD_HEALTH_WEBHOOK_URL",
        }
        & used
    )


# Handlers are written as string literals (resource arguments or variable defaults).
HANDLER = re.compile(r'"(upload_[a-z_]+\.lambda_handlers\.[a-z_]+)"')


def test_wired_handlers_are_functions_of_the_packages() -> None:
    handlers = sorted(
        {
            handler
            for path in (REPO_ROOT / "terraform" / "modules").rglob("*.tf")
            for handler in HANDLER.findall(COMMENT.sub("", path.read_text()))
        }
    )
    assert len(handlers) == 10, handlers  # the api's, 8 workers' and the health report's
    for handler in handlers:
        module, _, function = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function, None)), (
            f"{handler} is not a function"
        )


def test_the_migration_function_runs_the_common_packages_handler() -> None:
    code = COMMENT.sub("", (REPO_ROOT / "terraform/modules/upload_service/migration.tf").read_text())
    (handler,) = re.findall(r'handler\s*=\s*"([a-z_.]+)"', code)
    module, _, function = handler.rpartition(".")
    assert handler == "upload_common.migration_handler.handler"
    assert callable(getattr(importlib.import_module(module), function, None))
