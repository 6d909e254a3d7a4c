"""ARNs in session policies: the partition comes from the role being assumed, never a hard-coded `aws`.

A role in AWS China (`arn:aws-cn:…`) or GovCloud (`arn:aws-us-gov:…`) can only be granted resources of
its own partition; a policy naming `arn:aws:s3:::…` there would allow nothing at all.
"""

from __future__ import annotations

import re

from upload_common.errors import ConfigurationError

# arn:<partition>:iam::<12-digit account>:role/<optional path/><name> (IAM's own character set).
_ROLE_ARN = re.compile(r"^arn:(?P<partition>aws(?:-[a-z]+)*):iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def role_partition(role_arn: str, *, variable: str = "UPLOAD_SUBMITTER_ROLE_ARN") -> str:
    """The partition (`aws`, `aws-cn`, `aws-us-gov`, …) of an IAM role's ARN; a malformed ARN is a
    `ConfigurationError` naming `variable`, the setting it came from."""
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        raise ConfigurationError(
            f"{variable}: not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>): {role_arn!r}"
        )
    return match["partition"]


def s3_arn(partition: str, bucket: str, path: str | None = None) -> str:
    """`arn:<partition>:s3:::<bucket>`, or the ARN of objects `<bucket>/<path>` (`path` may end in `*`)."""
    return f"arn:{partition}:s3:::{bucket}" + (f"/{path}" if path is not None else "")
