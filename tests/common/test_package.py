"""The installed dcp-upload-common distribution ships its migrations and matches the source version."""

from __future__ import annotations

from importlib.metadata import distribution
from importlib.resources import files

import upload_common


def test_installed_version_is_the_source_version() -> None:
    assert distribution("dcp-upload-common").version == upload_common.__version__


def test_migrations_ship_inside_the_package() -> None:
    migrations = files("upload_common") / "migrations"
    assert (migrations / "env.py").is_file()
    assert (migrations / "script.py.mako").is_file()
    assert any(entry.name.startswith("0001_") for entry in (migrations / "versions").iterdir())
