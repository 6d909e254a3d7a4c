"""The store registry: `UPLOAD_STORAGE_URL` picks the store, a wrong value stops start-up clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from upload_common.errors import ConfigurationError
from upload_common.settings import Settings, load_settings
from upload_common.storage import STORES, LocalObjectStore, S3ObjectStore, open_store


def test_file_url_opens_the_local_store(tmp_path: Path) -> None:
    store = open_store(Settings(storage_url=f"file://{tmp_path}/store"))

    assert isinstance(store, LocalObjectStore)
    assert store.url == f"file://{tmp_path}/store"
    assert (tmp_path / "store").is_dir()


def test_the_default_is_the_local_store_under_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(Settings())
    assert store.url == f"file://{tmp_path}/var/storage"


def test_s3_url_opens_the_s3_store_on_the_configured_endpoint() -> None:
    store = open_store(Settings(storage_url="s3://upload-bucket", s3_endpoint_url="http://127.0.0.1:4566"))

    assert isinstance(store, S3ObjectStore)
    assert store.url == "s3://upload-bucket"
    assert store.object_url("area/x y") == "s3://upload-bucket/area/x y"


@pytest.mark.parametrize("url", ["gs://bucket", "azure://container", "bucket", "/var/storage", "file:/x"])
def test_an_unknown_store_names_the_variable_and_the_valid_choices(url: str) -> None:
    # model_construct skips the settings validator, so the registry's own message is what is tested.
    with pytest.raises(ConfigurationError) as raised:
        open_store(Settings.model_construct(storage_url=url))

    assert "UPLOAD_STORAGE_URL" in str(raised.value)
    assert "valid choices: file://, s3://" in str(raised.value)


@pytest.mark.parametrize(
    "url", ["file://relative/path", "file://", "s3://", "s3://bucket/prefix", "s3://b?x=1"]
)
def test_a_malformed_url_of_a_known_store_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="UPLOAD_STORAGE_URL"):
        open_store(Settings.model_construct(storage_url=url))


def test_settings_accept_exactly_the_registered_schemes(tmp_path: Path) -> None:
    for scheme in STORES:
        load_settings(Settings, storage_url=f"{scheme}://{tmp_path}")
    with pytest.raises(ConfigurationError, match="UPLOAD_STORAGE_URL"):
        load_settings(Settings, storage_url="gs://bucket")
