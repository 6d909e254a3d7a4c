"""Object storage: the `ObjectStore` interface and its implementations."""

from upload_common.storage.base import ObjectInfo, ObjectStore

__all__ = ["ObjectInfo", "ObjectStore"]
