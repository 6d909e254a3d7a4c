"""The installed distribution is the one this checkout builds, with its declared dependencies."""

from __future__ import annotations

from importlib.metadata import distribution

from packaging.requirements import Requirement

import upload_batch_validator


def test_installed_version_is_the_source_version() -> None:
    assert distribution("dcp-upload-batch-validator").version == upload_batch_validator.__version__


def test_depends_on_common_and_no_other_service() -> None:
    requirements = distribution("dcp-upload-batch-validator").requires or []
    names = {Requirement(requirement).name for requirement in requirements}
    assert "dcp-upload-common" in names
    assert not names & {"dcp-upload-api", "dcp-upload-checksum", "dcp-upload-batch-validator"} - {
        "dcp-upload-batch-validator"
    }
