"""The installed distribution is the one this checkout builds, with its declared dependencies."""

from __future__ import annotations

from importlib.metadata import distribution

from packaging.requirements import Requirement

import upload_api


def test_installed_version_is_the_source_version() -> None:
    assert distribution("dcp-upload-api").version == upload_api.__version__


def test_depends_on_common_and_no_other_service() -> None:
    requirements = distribution("dcp-upload-api").requires or []
    names = {Requirement(requirement).name for requirement in requirements}
    assert "dcp-upload-common" in names
    assert not names & {"dcp-upload-api", "dcp-upload-checksum", "dcp-upload-batch-validator"} - {
        "dcp-upload-api"
    }
