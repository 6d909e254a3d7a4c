"""Object storage: the `ObjectStore` interface and its implementations, chosen by `open_store`."""

from upload_common.storage.base import ObjectInfo, ObjectStore, PartInfo
from upload_common.storage.factory import STORES, open_store
from upload_common.storage.keys import validate_key, validate_prefix
from upload_common.storage.local import LocalObjectStore
from upload_common.storage.s3 import S3ObjectStore

__all__ = [
    "STORES",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectStore",
    "PartInfo",
    "S3ObjectStore",
    "open_store",
    "validate_key",
    "validate_prefix",
]
