"""Scoped upload credentials: the session policy (evaluated here, since moto does not enforce session
policies), the STS issuer against moto, and the factory."""

from __future__ import annotations

import fnmatch
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from support.sts_refusal import ABOVE_MAX_SESSION_DURATION, ABOVE_ROLE_CHAINING_LIMIT, sts_refusing
from upload_common import boto_clients
from upload_common.boto_clients import client_config
from upload_common.credentials import (
    StsCredentialIssuer,
    UploadCredentials,
    area_session_policy,
    make_credential_issuer,
    role_partition,
)
from upload_common.errors import (
    ConfigurationError,
    CredentialsDurationError,
    CredentialsError,
    InvalidInputError,
)
from upload_common.settings import Settings, load_settings

AREA = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OTHER_AREA = "1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
BUCKET = "org-humancellatlas-upload-test"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


# -- a small IAM evaluator: explicit deny wins, else some allow, else implicit deny -------------------


def allows(policy: dict[str, Any], action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    allowed = False
    for statement in policy["Statement"]:
        if not (_matches(statement["Action"], action) and _matches(statement["Resource"], resource)):
            continue
        if not _conditions_hold(statement.get("Condition", {}), context or {}):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def _matches(patterns: str | list[str], value: str) -> bool:
    # IAM wildcards: `*` any run of characters (including `/`), `?` one character; actions ignore case.
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in _as_list(patterns))


def _conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            if key not in context:
                return False
            value = context[key]
            if operator == "StringEquals" and value not in _as_list(expected):
                return False
            if operator == "StringLike" and not any(
                fnmatch.fnmatchcase(value, p) for p in _as_list(expected)
            ):
                return False
            if operator not in ("StringEquals", "StringLike"):
                raise AssertionError(f"the evaluator does not know {operator}")
    return True


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


# -- the policy ---------------------------------------------------------------------------------------


POLICY = area_session_policy(BUCKET, AREA, partition="aws")
AREA_OBJECT = f"arn:aws:s3:::{BUCKET}/{AREA}/dir/file name é.fastq.gz"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"


@pytest.mark.parametrize(
    "resource",
    [AREA_OBJECT, f"arn:aws:s3:::{BUCKET}/{AREA}/x", f"arn:aws:s3:::{BUCKET}/{AREA}/a/b/c"],
)
def test_the_policy_allows_putting_objects_in_the_area(resource: str) -> None:
    assert allows(POLICY, "s3:PutObject", resource)


@pytest.mark.parametrize(
    "resource",
    [
        f"arn:aws:s3:::{BUCKET}/{OTHER_AREA}/x",
        f"arn:aws:s3:::{BUCKET}/{AREA}",  # the area's own name, outside its prefix
        f"arn:aws:s3:::{BUCKET}/{AREA}x/file",  # an id that merely starts with the area's
        f"arn:aws:s3:::{BUCKET}/x/{AREA}/file",
        f"arn:aws:s3:::other-bucket/{AREA}/x",
        BUCKET_ARN,
    ],
)
def test_the_policy_denies_putting_objects_anywhere_else(resource: str) -> None:
    assert not allows(POLICY, "s3:PutObject", resource)


@pytest.mark.parametrize(
    "action",
    [
        "s3:PutObjectTagging",  # submitters must not forge checksum tags
        "s3:PutObjectVersionTagging",
        "s3:PutObjectAcl",
        "s3:GetObject",
        "s3:GetObjectTagging",
        "s3:DeleteObject",
        "s3:DeleteObjectTagging",
        "s3:PutBucketPolicy",
        "s3:ListAllMyBuckets",
        "sts:AssumeRole",
        "iam:PassRole",
    ],
)
def test_the_policy_denies_every_other_action_even_inside_the_area(action: str) -> None:
    for resource in (AREA_OBJECT, BUCKET_ARN, "*"):
        assert not allows(POLICY, action, resource, {"s3:prefix": f"{AREA}/"})


@pytest.mark.parametrize("prefix", [f"{AREA}/", f"{AREA}/dir/", f"{AREA}/file.fastq"])
def test_the_policy_allows_listing_the_area(prefix: str) -> None:
    assert allows(POLICY, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": prefix})


@pytest.mark.parametrize("prefix", [None, "", AREA, f"{AREA}x/", f"{OTHER_AREA}/", "*", f"x/{AREA}/"])
def test_the_policy_denies_listing_anything_else(prefix: str | None) -> None:
    context = {} if prefix is None else {"s3:prefix": prefix}
    assert not allows(POLICY, "s3:ListBucket", BUCKET_ARN, context)
    assert not allows(POLICY, "s3:ListBucket", "arn:aws:s3:::other-bucket", {"s3:prefix": f"{AREA}/"})


@pytest.mark.parametrize("prefix", [None, f"{AREA}/", f"{AREA}/big.bin"])
def test_the_policy_never_lists_in_progress_uploads(prefix: str | None) -> None:
    """AWS gives ListBucketMultipartUploads no `s3:prefix` key: allowed at all, it would show every
    area's in-progress file names. `dcp-upload upload` resumes from the upload id it recorded."""
    context = {} if prefix is None else {"s3:prefix": prefix}
    assert not allows(POLICY, "s3:ListBucketMultipartUploads", BUCKET_ARN, context)
    assert not any("ListBucketMultipartUploads" in str(s["Action"]) for s in POLICY["Statement"])


@pytest.mark.parametrize(
    "key",
    [".dcp-upload/inventory-20260101T000000000000Z.json", ".dcp-upload/x", ".dcp-upload/a/b"],
)
def test_the_policy_denies_putting_under_the_services_own_prefix(key: str) -> None:
    """Sealing stores the inventory under `<area>/.dcp-upload/`: credentials issued before the seal
    must not replace it. An explicit deny, so no other grant (the role's is bucket-wide) outweighs it."""
    resource = f"arn:aws:s3:::{BUCKET}/{AREA}/{key}"
    assert not allows(POLICY, "s3:PutObject", resource)
    role_wide = {
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]
    }
    assert allows(role_wide, "s3:PutObject", resource)  # the role alone would allow it
    assert not allows({"Statement": role_wide["Statement"] + POLICY["Statement"]}, "s3:PutObject", resource)


@pytest.mark.parametrize(
    "key", ["x.dcp-upload/file", "dcp-upload/file", "dir/.dcp-upload/file", ".dcp-uploads/x"]
)
def test_names_that_merely_resemble_the_services_prefix_stay_writable(key: str) -> None:
    assert allows(POLICY, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/{AREA}/{key}")


@pytest.mark.parametrize("action", ["s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"])
def test_the_policy_allows_resuming_uploads_in_the_area_only(action: str) -> None:
    """What `dcp-upload upload` needs to resume (ListParts) or drop (Abort) an interrupted upload."""
    assert allows(POLICY, action, AREA_OBJECT)
    assert not allows(POLICY, action, f"arn:aws:s3:::{BUCKET}/{OTHER_AREA}/x")
    assert not allows(POLICY, action, f"arn:aws:s3:::{BUCKET}/{AREA}")
    assert not allows(POLICY, action, BUCKET_ARN)


def test_the_evaluator_itself_tells_allow_from_deny() -> None:
    # Guards the tests above against an evaluator that denies everything.
    wide = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    assert allows(wide, "s3:PutObjectTagging", AREA_OBJECT)
    denied = {"Statement": [*wide["Statement"], {"Effect": "Deny", "Action": "s3:Put*", "Resource": "*"}]}
    assert not allows(denied, "s3:PutObject", AREA_OBJECT)


@pytest.mark.parametrize(
    "area",
    [
        "*",
        f"{AREA}/*",
        "",
        "not-a-uuid",
        f"{{{AREA}}}",
        AREA.replace("-", ""),
        f"urn:uuid:{AREA}",
        "dead*eef-dead-dead-dead-deaddeadbeef",
    ],
)
def test_an_area_id_that_is_not_an_area_id_is_refused(area: str) -> None:
    with pytest.raises(InvalidInputError):
        area_session_policy(BUCKET, area, partition="aws")


def test_the_policy_fits_sts_s_packed_size_limit() -> None:
    assert len(json.dumps(POLICY, separators=(",", ":"))) < 2048


# -- the STS issuer -----------------------------------------------------------------------------------


@pytest.fixture
def role_arn() -> Iterator[str]:
    with mock_aws():
        iam = boto_clients.client("iam")
        role = iam.create_role(
            RoleName="dcp-upload-submitter-test", AssumeRolePolicyDocument=json.dumps(TRUST)
        )
        yield role["Role"]["Arn"]


def test_issue_assumes_the_role_with_the_area_policy(role_arn: str) -> None:
    sts = boto_clients.client("sts")
    calls: list[dict[str, Any]] = []
    sts.meta.events.register("provide-client-params.sts.AssumeRole", lambda params, **_: calls.append(params))
    before = datetime.now(UTC)

    credentials = StsCredentialIssuer(role_arn, BUCKET, sts, duration_seconds=1800).issue(AREA)

    assert len(calls) == 1
    assert json.loads(calls[0]["Policy"]) == area_session_policy(BUCKET, AREA, partition="aws")
    assert calls[0]["DurationSeconds"] == 1800
    session_name = calls[0]["RoleSessionName"]
    assert len(session_name) <= 64
    assert set(session_name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-")
    assert credentials.expiration.utcoffset() == timedelta(0)
    assert before + timedelta(seconds=1790) <= credentials.expiration <= before + timedelta(seconds=1830)
    # The credentials work, and they are the role's, in a session named after the area.
    identity = boto_clients.client(
        "sts",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    ).get_caller_identity()
    assert identity["Arn"].endswith(f"assumed-role/dcp-upload-submitter-test/{session_name}")
    assert AREA in session_name


def test_the_response_body_has_the_seed_s_keys_and_an_offset_in_the_expiration() -> None:
    expiration = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = UploadCredentials("AKIA", "secret", "token", expiration).to_json()

    assert body == {
        "AccessKeyId": "AKIA",
        "SecretAccessKey": "secret",
        "SessionToken": "token",
        "Expiration": "2026-01-02T03:04:05+00:00",
    }
    assert datetime.fromisoformat(body["Expiration"]) == expiration
    assert "secret" not in repr(UploadCredentials("AKIA", "secret", "token", expiration))


def test_the_issuer_refuses_a_bad_area_before_calling_sts(role_arn: str) -> None:
    with pytest.raises(InvalidInputError):
        StsCredentialIssuer(role_arn, BUCKET, boto_clients.client("sts")).issue("*")


def test_an_sts_failure_is_a_credentials_error() -> None:
    # Nothing listens on port 9 of the loopback: the call fails at once, as an outage would.
    sts = boto_clients.client(
        "sts", endpoint_url="http://127.0.0.1:9", config=client_config(retries={"max_attempts": 1})
    )
    issuer = StsCredentialIssuer("arn:aws:iam::123456789012:role/x", BUCKET, sts)
    with pytest.raises(CredentialsError):
        issuer.issue(str(uuid.uuid4()))


@pytest.mark.parametrize("seconds", [0, 899, 3601, 43200])
def test_a_duration_sts_cannot_grant_a_chained_role_stops_start_up(seconds: int) -> None:
    with pytest.raises(ConfigurationError, match="UPLOAD_CREDENTIALS_DURATION_SECONDS") as settings_error:
        load_settings(Settings, credentials_duration_seconds=seconds)
    assert "role chaining" in str(settings_error.value)
    with pytest.raises(ConfigurationError, match=r"UPLOAD_CREDENTIALS_DURATION_SECONDS.*role chaining"):
        StsCredentialIssuer("arn:aws:iam::123456789012:role/x", BUCKET, boto_clients.client("sts"), seconds)


def test_credentials_are_short_by_default() -> None:
    assert Settings().credentials_duration_seconds == 900
    assert load_settings(Settings, credentials_duration_seconds=3600).credentials_duration_seconds == 3600


@pytest.mark.parametrize(
    ("role_arn", "partition"),
    [
        ("arn:aws:iam::123456789012:role/submitter", "aws"),
        ("arn:aws-cn:iam::123456789012:role/path/to/submitter", "aws-cn"),
        ("arn:aws-us-gov:iam::123456789012:role/upload-prod-submitter-20260101", "aws-us-gov"),
    ],
)
def test_every_arn_of_the_session_policy_is_in_the_role_s_partition(role_arn: str, partition: str) -> None:
    sent: list[dict[str, Any]] = []
    # The call itself fails at once (nothing listens there); the policy it would send is what counts.
    sts = boto_clients.client(
        "sts", endpoint_url="http://127.0.0.1:9", config=client_config(retries={"max_attempts": 1})
    )
    sts.meta.events.register("provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(params))

    assert role_partition(role_arn) == partition
    with pytest.raises(CredentialsError):
        StsCredentialIssuer(role_arn, BUCKET, sts).issue(AREA)

    policy = json.loads(sent[0]["Policy"])
    resources = [r for statement in policy["Statement"] for r in statement["Resource"]]
    objects, bucket = f"arn:{partition}:s3:::{BUCKET}/{AREA}/*", f"arn:{partition}:s3:::{BUCKET}"
    assert resources == [objects, objects, bucket, f"arn:{partition}:s3:::{BUCKET}/{AREA}/.dcp-upload/*"]


@pytest.mark.parametrize(
    "role_arn",
    [
        "submitter",
        "arn:aws:iam::123456789012:user/someone",
        "arn:aws:iam::12345:role/short-account",
        "arn:aws:s3:::a-bucket",
        "arn::iam::123456789012:role/no-partition",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role/with space",
    ],
)
def test_a_malformed_role_arn_stops_start_up_naming_the_setting(role_arn: str) -> None:
    with pytest.raises(ConfigurationError, match="UPLOAD_SUBMITTER_ROLE_ARN"):
        StsCredentialIssuer(role_arn, BUCKET, boto_clients.client("sts"))
    with mock_aws(), pytest.raises(ConfigurationError, match="UPLOAD_SUBMITTER_ROLE_ARN"):
        make_credential_issuer(Settings(storage_url=f"s3://{BUCKET}", submitter_role_arn=role_arn))


@pytest.mark.parametrize("message", [ABOVE_MAX_SESSION_DURATION, ABOVE_ROLE_CHAINING_LIMIT])
def test_a_duration_the_role_refuses_says_what_to_configure_and_is_logged_once(
    message: str, caplog: pytest.LogCaptureFixture
) -> None:
    role = "arn:aws:iam::123456789012:role/submitter"
    issuer = StsCredentialIssuer(role, BUCKET, sts_refusing(message), duration_seconds=3600)

    with caplog.at_level(logging.ERROR, logger="upload_common.credentials.sts"):
        for _ in range(3):
            with pytest.raises(CredentialsDurationError) as refused:
                issuer.issue(AREA)

    detail = str(refused.value)
    assert "3600" in detail
    assert "UPLOAD_CREDENTIALS_DURATION_SECONDS" in detail
    assert "maximum session duration" in detail
    assert role not in detail  # the caller hears what to configure, the log says which role
    assert [r.getMessage() for r in caplog.records] == [f"{detail} (role {role})"]


def test_other_sts_refusals_stay_plain_credentials_errors() -> None:
    sts = sts_refusing("1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint")
    with pytest.raises(CredentialsError) as refused:
        StsCredentialIssuer("arn:aws:iam::123456789012:role/x", BUCKET, sts).issue(AREA)
    assert not isinstance(refused.value, CredentialsDurationError)


# -- the factory --------------------------------------------------------------------------------------


def test_no_issuer_without_a_role_or_without_s3(tmp_path: Any) -> None:
    assert make_credential_issuer(Settings(storage_url="s3://bucket")) is None
    role = "arn:aws:iam::123456789012:role/submitter"
    assert make_credential_issuer(Settings(storage_url=f"file://{tmp_path}", submitter_role_arn=role)) is None


def test_an_issuer_for_s3_with_a_role_uses_the_settings(role_arn: str) -> None:
    settings = Settings(
        storage_url=f"s3://{BUCKET}", submitter_role_arn=role_arn, credentials_duration_seconds=900
    )

    issuer = make_credential_issuer(settings)

    assert isinstance(issuer, StsCredentialIssuer)
    credentials = issuer.issue(AREA)
    assert credentials.expiration <= datetime.now(UTC) + timedelta(seconds=960)


def test_seed_style_area_ids_are_used_verbatim() -> None:
    # The seed accepted any letters and digits in the uuid shape; keys (and so the policy) keep the case.
    area = "DeadBeef-dead-dead-dead-ZZ0123456789"
    policy = area_session_policy(BUCKET, area, partition="aws")
    assert policy["Statement"][0]["Resource"] == [f"arn:aws:s3:::{BUCKET}/{area}/*"]
