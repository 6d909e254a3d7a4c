"""Secrets of the embedded default: taken from settings when set, else generated once under `var/`.

On AWS every secret is set (from Secrets Manager); locally the service needs none to start, so the
first start generates each one, keeps it in a file only the owner can read, and reuses it afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr


def _random_secret() -> str:
    return secrets.token_urlsafe(32)


def resolve_secret(
    configured: SecretStr | None, var_dir: Path, name: str, *, generate: Callable[[], str] = _random_secret
) -> str:
    """The configured secret, or the one kept in `var_dir/<name>` (made by `generate` on first use)."""
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    path = var_dir / name
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = generate()
    # O_EXCL: when two processes start at once, exactly one writes and the other reads its value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value
