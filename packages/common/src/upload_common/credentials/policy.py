"""The session policies that narrow a role: the submitter role to one area, the staging role to one
validation's objects (pure functions, tested on their own)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from upload_common.area_ids import check_area_id
from upload_common.credentials.arns import s3_arn
from upload_common.domain.seals import SERVICE_PREFIX
from upload_common.errors import InvalidInputError

SESSION_POLICY_MAX_CHARACTERS = 2048  # STS's limit on the plain text of an inline session policy
# IAM reads these as a wildcard or a policy variable in a resource; `${c}` is the character itself.
_IAM_SPECIAL = {"*": "${*}", "?": "${?}", "$": "${$}"}


def area_session_policy(bucket: str, area_uuid: str, *, partition: str) -> dict[str, Any]:
    """Allow `s3:PutObject` on `bucket/<area>/*` and listing the `<area>/` prefix, and what resuming a
    multipart upload there needs (the parts of an upload the client recorded, aborting one); nothing
    else. `partition`: the assumed role's (`upload_common.credentials.arns.role_partition`).

    No `s3:ListBucketMultipartUploads`: AWS gives it no `s3:prefix` condition key, so it could only be
    granted for the whole bucket, and would show every area's in-progress file names. An explicit deny
    keeps `<area>/.dcp-upload/` (where sealing stores the inventory, `domain.seals`) out of reach of
    credentials issued before the seal.

    No `s3:PutObjectTagging` (the seed allowed it): tags carry the service's checksums, and a submitter
    who could write them could forge them. The area id must have the anchored area-id form (letters,
    digits, hyphens), so that it can never smuggle a wildcard (`*`, `?`) or a policy variable into
    the resource or the condition.
    """
    area = check_area_id(area_uuid)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PutObjectsIntoTheArea",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [s3_arn(partition, bucket, f"{area}/*")],
            },
            {
                "Sid": "ResumeUploadsInTheArea",
                "Effect": "Allow",
                "Action": ["s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
                "Resource": [s3_arn(partition, bucket, f"{area}/*")],
            },
            {
                "Sid": "ListTheArea",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [s3_arn(partition, bucket)],
                "Condition": {"StringLike": {"s3:prefix": [f"{area}/", f"{area}/*"]}},
            },
            {
                "Sid": "NeverTheServicesOwnObjects",
                "Effect": "Deny",
                "Action": ["s3:PutObject"],
                "Resource": [s3_arn(partition, bucket, f"{area}/{SERVICE_PREFIX}*")],
            },
        ],
    }


def staging_session_policy(
    bucket: str, area_uuid: str, keys: Sequence[str], *, partition: str
) -> dict[str, Any]:
    """Allow `s3:GetObject` (which HeadObject needs too) on exactly these objects of the area; nothing
    else. `partition`: the assumed role's.

    A key's `*`, `?` and `$` are written `${*}`, `${?}` and `${$}`, so each resource names its one
    object. When the policy would pass STS's 2,048 characters (many files, long names), it allows the
    area's objects (`<area>/*`) instead: still only that area, still read-only.
    """
    area = check_area_id(area_uuid)
    outside = [key for key in keys if not key.startswith(f"{area}/")]
    if not keys or outside:
        raise InvalidInputError(f"staging credentials name objects of area {area} only: {outside or 'none'}")
    exact = _read_policy([s3_arn(partition, bucket, iam_literal(key)) for key in keys])
    if len(packed_policy(exact)) <= SESSION_POLICY_MAX_CHARACTERS:
        return exact
    return _read_policy([s3_arn(partition, bucket, f"{area}/*")])


def iam_literal(text: str) -> str:
    """`text` as an IAM resource that matches only itself (wildcards and `$` escaped)."""
    return "".join(_IAM_SPECIAL.get(character, character) for character in text)


def packed_policy(policy: dict[str, Any]) -> str:
    """The policy as it is sent to STS (and counted against its limit)."""
    return json.dumps(policy, separators=(",", ":"))


def _read_policy(resources: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheValidationsObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": resources,
            }
        ],
    }
