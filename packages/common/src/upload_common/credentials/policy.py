"""The session policy that narrows the submitter role to one area (a pure function, tested on its own)."""

from __future__ import annotations

from typing import Any

from upload_common.area_ids import check_area_id


def area_session_policy(bucket: str, area_uuid: str) -> dict[str, Any]:
    """Allow `s3:PutObject` on `bucket/<area>/*` and listing the `<area>/` prefix; nothing else.

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
                "Resource": [f"arn:aws:s3:::{bucket}/{area}/*"],
            },
            {
                "Sid": "ListTheArea",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": [f"{area}/", f"{area}/*"]}},
            },
        ],
    }
