"""The validators that ship with the package, by the image names the API accepts for them.

The local runner maps an image name to a command (settings `UPLOAD_VALIDATORS` merge over these);
on AWS each name is a real image whose `/validator` runs the same module.
"""

from __future__ import annotations

BUILTIN_VALIDATORS: dict[str, str] = {
    "dcp-upload/validator-fastq": "upload-validator-fastq",
    "dcp-upload/validator-gzip": "upload-validator-gzip",
    "dcp-upload/validator-json": "upload-validator-json",
}
