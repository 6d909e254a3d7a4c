"""Checksums a client declared for an upload, and their comparison with the computed ones.

The HCA CLI puts the file's crc32c in the object's user metadata (`crc32c`, sometimes without its
leading zeros); a client may also declare `sha256`. A mismatch means the bytes changed in transit.
"""

from __future__ import annotations

from collections.abc import Mapping

DECLARABLE = ("crc32c", "sha256")


def declared_checksums(metadata: Mapping[str, str]) -> dict[str, str] | None:
    """The declared checksums in an object's user metadata, normalised; None when there are none."""
    declared = {name: metadata[name].strip().lower() for name in DECLARABLE if name in metadata}
    if "crc32c" in declared:
        declared["crc32c"] = declared["crc32c"].zfill(8)
    return declared or None


def mismatches(declared: Mapping[str, str] | None, computed: Mapping[str, str]) -> dict[str, str]:
    """The declared values that disagree with the computed checksums."""
    return {name: value for name, value in (declared or {}).items() if value != computed.get(name)}
