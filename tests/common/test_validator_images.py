"""Which validator images may run: the reference grammar, the allow-list's entries, its default."""

from __future__ import annotations

from pathlib import Path

import pytest

from upload_common.domain.images import (
    ImageReference,
    allowed_validator_images,
    check_validator_image,
    parse_image_reference,
)
from upload_common.errors import ConfigurationError, ImageNotAllowedError, InvalidImageReferenceError
from upload_common.settings import Settings, load_settings
from upload_common.validators import BUILTIN_VALIDATORS

DIGEST = f"sha256:{'ab' * 32}"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("dcp-upload/validator-fastq", ImageReference(None, "dcp-upload/validator-fastq")),
        ("ubuntu", ImageReference(None, "ubuntu")),
        ("quay.io/hca/fastq:1.0", ImageReference("quay.io", "hca/fastq", "1.0")),
        ("localhost:5000/a__b/c-d:v_1", ImageReference("localhost:5000", "a__b/c-d", "v_1")),
        (f"{ECR}/validators/x@{DIGEST}", ImageReference(ECR, "validators/x", None, DIGEST)),
        (f"quay.io/hca/fastq:1@{DIGEST}", ImageReference("quay.io", "hca/fastq", "1", DIGEST)),
    ],
)
def test_valid_references_parse(image: str, expected: ImageReference) -> None:
    reference = parse_image_reference(image)

    assert reference == expected
    assert str(reference) == image


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("x; rm -rf /", "not printable ASCII without spaces"),
        ("", "empty"),
        ("evil/Image", "bad path component 'Image'"),
        ("a//b", "bad path component ''"),
        ("-a/b", "bad path component '-a'"),
        ("a___b", "bad path component 'a___b'"),
        ("a:", "bad tag ''"),
        ("a:.x", "bad tag '.x'"),
        ("a@sha256:abc", "a digest is sha256: and 64 lowercase hex digits"),
        (f"a@md5:{'0' * 32}", "a digest is sha256:"),
        (f"a@{DIGEST}@{DIGEST}", "a digest is sha256:"),
        ("bad_host.io:x/a", "bad registry 'bad_host.io:x'"),
        ("a" * 256, "longer than 255"),
        ("a/b\n", "not printable"),
        ("é/b", "not printable ASCII"),
    ],
)
def test_malformed_references_say_what_is_wrong(image: str, problem: str) -> None:
    with pytest.raises(InvalidImageReferenceError, match="is not a valid image reference") as raised:
        parse_image_reference(image)
    assert problem in str(raised.value)


ALLOWED = ("quay.io/hca/fastq:1", "dcp-upload/validator-json", f"{ECR}/validators/", f"pinned@{DIGEST}")


@pytest.mark.parametrize(
    ("image", "admitted"),
    [
        ("quay.io/hca/fastq:1", True),
        (f"quay.io/hca/fastq:1@{DIGEST}", True),  # a digest pins content of the listed name
        ("quay.io/hca/fastq:2", False),
        (f"quay.io/hca/fastq@{DIGEST}", False),  # another tag (none) than the listed one
        ("dcp-upload/validator-json", True),
        (f"dcp-upload/validator-json@{DIGEST}", True),
        ("dcp-upload/validator-json:latest", False),  # compared as written
        (f"{ECR}/validators/x:1", True),
        (f"{ECR}/validators/team/y@{DIGEST}", True),
        (f"{ECR}/validators-evil/x:1", False),
        (f"{ECR}/other/x:1", False),
        (f"pinned@{DIGEST}", True),
        ("pinned", False),
        (f"pinned@sha256:{'cd' * 32}", False),
        ("evil/image:latest", False),
    ],
)
def test_the_allow_list_admits(image: str, admitted: bool) -> None:
    if admitted:
        assert check_validator_image(image, ALLOWED) == parse_image_reference(image)
        return
    with pytest.raises(ImageNotAllowedError, match=r"the allowed images are: quay\.io/hca/fastq:1, "):
        check_validator_image(image, ALLOWED)


def test_an_empty_list_admits_nothing_and_says_so() -> None:
    with pytest.raises(ImageNotAllowedError, match="UPLOAD_VALIDATOR_IMAGES is empty"):
        check_validator_image("dcp-upload/validator-json", ())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "quay.io/hca/fastq:1, localhost:5000/validators/",
            ("quay.io/hca/fastq:1", "localhost:5000/validators/"),
        ),
        ('["quay.io/hca/fastq:1", "quay.io/"]', ("quay.io/hca/fastq:1", "quay.io/")),
        ("", ()),
        ("[]", ()),
    ],
)
def test_the_setting_is_a_comma_separated_or_json_list(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("UPLOAD_VALIDATOR_IMAGES", value)

    assert load_settings(Settings).validator_images == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("quay.io/hca/fastq:1, Evil Image", "'Evil Image' is not a valid image reference"),
        ("quay.io/hca:1/", "is not a valid prefix"),
        ("quay.io//", "not a valid prefix"),
        ('["a", ', "not a JSON list"),
    ],
)
def test_a_bad_entry_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("UPLOAD_VALIDATOR_IMAGES", value)

    with pytest.raises(ConfigurationError, match="UPLOAD_VALIDATOR_IMAGES") as raised:
        load_settings(Settings)
    assert problem in str(raised.value)


def test_unset_on_the_local_runner_the_images_with_a_local_command_are_allowed(in_tmp_cwd: Path) -> None:
    settings = load_settings(Settings, validators={"quay.io/hca/fastq:1": "fastq-check"})

    assert set(allowed_validator_images(settings)) == {*BUILTIN_VALIDATORS, "quay.io/hca/fastq:1"}
    assert "dcp-upload/checksum" not in allowed_validator_images(settings)  # a job, not a validator


def test_a_local_validator_whose_name_is_no_image_reference_stops_start_up(in_tmp_cwd: Path) -> None:
    settings = load_settings(Settings, validators={"My Validator": "check"})

    with pytest.raises(ConfigurationError, match="UPLOAD_VALIDATORS: validator image 'My Validator'"):
        allowed_validator_images(settings)


def test_unset_on_aws_batch_stops_start_up() -> None:
    settings = load_settings(Settings, job_runner="aws-batch")

    with pytest.raises(
        ConfigurationError, match="UPLOAD_VALIDATOR_IMAGES must be set when UPLOAD_JOB_RUNNER"
    ):
        allowed_validator_images(settings)
    assert allowed_validator_images(settings.model_copy(update={"validator_images": ()})) == ()
