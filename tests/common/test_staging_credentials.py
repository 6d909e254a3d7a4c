"""Staging credentials: the session policy that names a validation's objects (a pure function), the
issuer against moto, and its factory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sts.models import sts_backends

from upload_common.credentials import StagingCredentialIssuer, make_staging_issuer, staging_session_policy
from upload_common.credentials.policy import SESSION_POLICY_MAX_CHARACTERS, iam_literal, packed_policy
from upload_common.errors import ConfigurationError, InvalidInputError
from upload_common.settings import Settings

AREA = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
BUCKET = "org-humancellatlas-upload-test"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


def resources(policy: dict[str, Any]) -> list[str]:
    [statement] = policy["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", ["s3:GetObject"])
    return list(statement["Resource"])


def test_the_policy_names_each_object_and_nothing_else() -> None:
    keys = [f"{AREA}/R1.fastq", f"{AREA}/dir/R 2 ü.fastq"]

    policy = staging_session_policy(BUCKET, AREA, keys, partition="aws")

    assert policy["Version"] == "2012-10-17"  # policy variables (the escapes) need this version
    assert resources(policy) == [f"arn:aws:s3:::{BUCKET}/{key}" for key in keys]


def test_wildcards_and_variables_in_a_key_match_only_themselves() -> None:
    assert iam_literal("a*b?c$d") == "a${*}b${?}c${$}d"
    assert iam_literal("${aws:username}") == "${$}{aws:username}"  # a variable written in a name stays text
    assert iam_literal("plain name.txt") == "plain name.txt"
    [resource] = resources(staging_session_policy(BUCKET, AREA, [f"{AREA}/*"], partition="aws"))
    assert resource == f"arn:aws:s3:::{BUCKET}/{AREA}/${{*}}"  # not the whole area


def test_the_partition_is_the_roles() -> None:
    policy = staging_session_policy(BUCKET, AREA, [f"{AREA}/a"], partition="aws-cn")

    assert resources(policy) == [f"arn:aws-cn:s3:::{BUCKET}/{AREA}/a"]


def test_a_policy_over_the_sts_limit_falls_back_to_the_area() -> None:
    few = [f"{AREA}/{index:04d}-{'n' * 60}.fastq" for index in range(10)]
    many = [f"{AREA}/{index:04d}-{'n' * 60}.fastq" for index in range(40)]

    exact = staging_session_policy(BUCKET, AREA, few, partition="aws")
    fallback = staging_session_policy(BUCKET, AREA, many, partition="aws")

    assert len(packed_policy(exact)) <= SESSION_POLICY_MAX_CHARACTERS
    assert len(resources(exact)) == 10
    assert resources(fallback) == [f"arn:aws:s3:::{BUCKET}/{AREA}/*"]  # still read-only, still one area
    assert len(packed_policy(fallback)) <= SESSION_POLICY_MAX_CHARACTERS


@pytest.mark.parametrize(
    ("area", "keys", "problem"),
    [
        (AREA, [], "objects of area"),
        (AREA, ["another-area/a.txt"], "another-area/a.txt"),
        (AREA, [f"{AREA}x/a.txt"], "objects of area"),
        ("not-an-area/*", ["not-an-area/*"], "not an upload area id"),
    ],
)
def test_only_objects_of_one_well_formed_area_are_named(area: str, keys: list[str], problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        staging_session_policy(BUCKET, area, keys, partition="aws")


@pytest.fixture
def role() -> Iterator[str]:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        created = iam.create_role(RoleName="upload-staging", AssumeRolePolicyDocument=json.dumps(TRUST))
        yield str(created["Role"]["Arn"])


def test_the_issuer_assumes_the_role_with_that_policy_for_15_minutes(role: str) -> None:
    issuer = StagingCredentialIssuer(role, BUCKET, boto3.client("sts", region_name="us-east-1"))
    validation_id = "5f0e9d2c-7a41-4b8e-8c1d-0a9b8c7d6e5f"
    keys = [f"{AREA}/R1.fastq"]

    credentials = issuer.issue(AREA, validation_id, keys)

    lifetime = (credentials.expiration - datetime.now(UTC)).total_seconds()
    assert 800 < lifetime <= 900
    assumed = sts_backends["123456789012"]["aws"].get_assumed_role_from_access_key(credentials.access_key_id)
    assert (assumed.role_arn, assumed.session_name) == (role, f"staging-{validation_id}")
    assert json.loads(assumed.policy) == staging_session_policy(BUCKET, AREA, keys, partition="aws")


def test_a_malformed_role_arn_is_named_at_start() -> None:
    with pytest.raises(ConfigurationError, match="UPLOAD_STAGING_ROLE_ARN: not an IAM role ARN"):
        StagingCredentialIssuer("upload-staging", BUCKET, boto3.client("sts", region_name="us-east-1"))


def test_the_factory_issues_only_with_a_role_and_an_s3_store(tmp_path: Any) -> None:
    role = "arn:aws:iam::123456789012:role/upload-staging"
    assert make_staging_issuer(Settings(storage_url=f"s3://{BUCKET}")) is None
    assert make_staging_issuer(Settings(storage_url=f"file://{tmp_path}", staging_role_arn=role)) is None
    assert isinstance(
        make_staging_issuer(Settings(storage_url=f"s3://{BUCKET}", staging_role_arn=role)),
        StagingCredentialIssuer,
    )
