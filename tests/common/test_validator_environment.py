"""The rule for a validator's environment: which variables a caller may set, and how they travel."""

from __future__ import annotations

import json

import pytest

from upload_common.domain.validator_environment import (
    MAX_TOTAL_LENGTH,
    MAX_VALUE_LENGTH,
    MAX_VARIABLES,
    REFUSED_NAMES,
    REFUSED_PREFIXES,
    VALIDATOR_ENVIRONMENT_VARIABLE,
    check_environment,
    pack_environment,
    unpack_environment,
)
from upload_common.errors import InvalidInputError


def refusal(environment: dict[str, object]) -> str:
    with pytest.raises(InvalidInputError) as raised:
        check_environment(environment)
    return str(raised.value)


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"MODE": "strict", "SAMPLE_KIND": "paired", "_private": "", "x1": "é ü \n tabs\t"},
        # Near the refused names, but none of them: exact names are exact, prefixes are prefixes.
        {"PATHWAY": "a", "HOMEDIR": "b", "MY_PATH": "c", "TEMPERATURE": "d", "R_MODE": "e", "LANG": "C"},
        {"LC_ALL": "C.UTF-8", "TZ": "UTC", "NODEJS": "x", "ENVIRONMENT": "prod"},
        {f"V{i}": "x" for i in range(MAX_VARIABLES)},
        {"V": "x" * MAX_VALUE_LENGTH},
    ],
)
def test_ordinary_variables_pass_unchanged(environment: dict[str, str]) -> None:
    assert check_environment(environment) == environment


@pytest.mark.parametrize(
    "name",
    [
        # the service's own: its settings and token, AWS credentials and credential endpoints, ECS metadata
        "UPLOAD_CALLBACK_TOKEN",
        "UPLOAD_STAGING_DIR",
        "AWS_ACCESS_KEY_ID",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "ECS_CONTAINER_METADATA_URI_V4",
        # loaders
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "DYLD_INSERT_LIBRARIES",
        "GLIBC_TUNABLES",
        "GCONV_PATH",
        "LOCPATH",
        "NLSPATH",
        "MALLOC_TRACE",
        "HOSTALIASES",
        "RES_OPTIONS",
        "LOCALDOMAIN",
        "TZDIR",
        "OPENSSL_CONF",
        # interpreters
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONHOME",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "RUBYLIB",
        "RUBYOPT",
        "NODE_OPTIONS",
        "NODE_PATH",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "CLASSPATH",
        "R_HOME",
        "R_LIBS_USER",
        "R_PROFILE_USER",
        "R_ENVIRON_USER",
        "JULIA_DEPOT_PATH",
        "GEM_PATH",
        "BUNDLE_GEMFILE",
        "LUA_INIT",
        "CONDA_PREFIX",
        "VIRTUAL_ENV",
        # shells and paths
        "PATH",
        "HOME",
        "TMPDIR",
        "TMP",
        "TEMP",
        "SHELL",
        "IFS",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "CDPATH",
        "XDG_CONFIG_HOME",
        # case does not matter
        "pythonpath",
        "Ld_Preload",
        "upload_callback_token",
        "aws_access_key_id",
        "path",
    ],
)
def test_the_services_loader_interpreter_shell_and_path_variables_are_refused(name: str) -> None:
    message = refusal({"MODE": "strict", name: "x"})

    assert message.startswith("environment: reserved for the service, or unsafe for a validator")
    assert message.endswith(f": {name}")


def test_every_listed_name_and_prefix_is_refused() -> None:
    for name in REFUSED_NAMES:
        assert name in refusal({name: "x"})
    for prefix in REFUSED_PREFIXES:
        assert f"{prefix}X" in refusal({f"{prefix}X": "x"})


@pytest.mark.parametrize("name", ["A-B", "1ABC", "", "A B", "A=B", "É", "A.B", "X" * 129])
def test_malformed_names_are_refused(name: str) -> None:
    message = refusal({name: "x"})

    assert "names must match [A-Za-z_][A-Za-z0-9_]* and be at most 128 characters" in message
    assert repr(name)[:30] in message


def test_sizes_are_bounded() -> None:
    assert f"at most {MAX_VARIABLES} variables, got {MAX_VARIABLES + 1}" in refusal(
        {f"V{i}": "" for i in range(MAX_VARIABLES + 1)}
    )
    assert f"values must be at most {MAX_VALUE_LENGTH} characters: 'V'" in refusal(
        {"V": "x" * (MAX_VALUE_LENGTH + 1)}
    )
    assert f"add up to at most {MAX_TOTAL_LENGTH} characters" in refusal(
        {"A": "x" * MAX_VALUE_LENGTH, "B": "x" * MAX_VALUE_LENGTH}
    )


def test_values_are_strings_without_nul() -> None:
    assert "values must not contain a NUL character: 'V'" in refusal({"V": "a\0b"})
    assert "values must be strings: 'N', 'O'" in refusal({"N": 1, "O": None})


def test_one_refusal_names_every_refused_variable_of_every_kind() -> None:
    message = refusal({"PYTHONPATH": "/x", "LD_PRELOAD": "/y.so", "BAD-NAME": "1", "OK": "a\0", "FINE": "1"})

    assert "LD_PRELOAD, PYTHONPATH" in message
    assert "'BAD-NAME'" in message
    assert "NUL character: 'OK'" in message
    assert "FINE" not in message


def test_the_caller_variables_travel_packed_in_one_variable() -> None:
    packed = pack_environment({"B": "2", "A": "1"})

    assert list(packed) == [VALIDATOR_ENVIRONMENT_VARIABLE]
    assert json.loads(packed[VALIDATOR_ENVIRONMENT_VARIABLE]) == {"A": "1", "B": "2"}
    assert unpack_environment(packed[VALIDATOR_ENVIRONMENT_VARIABLE]) == {"A": "1", "B": "2"}
    assert unpack_environment(None) == unpack_environment("") == {}
    with pytest.raises(InvalidInputError, match="LD_PRELOAD"):
        pack_environment({"LD_PRELOAD": "/x.so"})


@pytest.mark.parametrize(
    ("packed", "problem"),
    [
        ("{not json", "UPLOAD_VALIDATOR_ENVIRONMENT is not JSON"),
        ('["A"]', "UPLOAD_VALIDATOR_ENVIRONMENT must be a JSON object"),
        ('{"LD_PRELOAD": "/x.so"}', "unsafe for a validator"),  # checked again on arrival
    ],
)
def test_what_arrives_is_checked_again(packed: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        unpack_environment(packed)
