"""The caller's environment for a validator: which variables it may set, and how they reach the validator.

A validator image is chosen by any Api-Key holder, and its `environment` comes with the request. The
variables reach the validator process only (never the harness that stages its files and holds the job's
token): the scheduler packs them into one reserved variable of the job, `UPLOAD_VALIDATOR_ENVIRONMENT`,
and the harness unpacks them into an environment it builds from scratch. Both check them again with
`check_environment`, the one rule for what a caller may set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from upload_common.errors import InvalidInputError

# The job variable that carries the caller's variables (JSON object), read only by the harness.
VALIDATOR_ENVIRONMENT_VARIABLE = "UPLOAD_VALIDATOR_ENVIRONMENT"

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_VARIABLES = 64
MAX_NAME_LENGTH = 128
MAX_VALUE_LENGTH = 2048
# AWS Batch (through ECS) caps a job's overrides at 8 KiB, the file URLs and the service's variables
# included: the caller's variables, all together, get half of it.
MAX_TOTAL_LENGTH = 4096

# Names (compared in upper case) that a caller may never set: the service's own variables (the harness's
# settings, the job's token, AWS credentials and credential endpoints, ECS metadata), and every variable
# that makes a loader, an interpreter or a shell load or run code or data from elsewhere, or that moves
# the validator's paths. Any of them would let a request run code of its choosing inside an allow-listed
# validator (e.g. PYTHONPATH pointing at an uploaded sitecustomize.py). The glibc names are those it
# ignores in setuid programs for the same reason (its "unsecure envvars").
REFUSED_PREFIXES = (
    "UPLOAD_",  # the harness's settings and token
    "AWS_",  # credentials, credential endpoints (AWS_CONTAINER_*), web identity token file
    "ECS_",  # ECS_CONTAINER_METADATA_URI(_V4)
    "LD_",  # LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT …
    "DYLD_",
    "MALLOC_",  # glibc's MALLOC_TRACE writes files; the local runner sets MALLOC_ARENA_MAX itself
    "PYTHON",  # PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, PYTHONINSPECT, PYTHONBREAKPOINT …
    "PERL",  # PERL5LIB, PERL5OPT, PERLLIB, PERL5DB, PERLIO …
    "RUBY",  # RUBYLIB, RUBYOPT
    "NODE_",  # NODE_OPTIONS, NODE_PATH
    "JAVA_",  # JAVA_TOOL_OPTIONS, JAVA_HOME
    "_JAVA_",
    "JDK_JAVA_",
    "R_HOME",
    "R_LIBS",
    "R_PROFILE",
    "R_ENVIRON",
    "JULIA_",
    "GEM_",
    "BUNDLE_",
    "LUA_",  # LUA_PATH, LUA_CPATH, LUA_INIT
    "BASH_",  # BASH_ENV, BASH_XTRACEFD, BASH_LOADABLES_PATH
    "OPENSSL_",  # OPENSSL_CONF can load engines (shared objects)
    "CONDA_",
    "XDG_",
)
REFUSED_NAMES = frozenset(
    {
        # paths of the validator's own process
        "PATH",
        "HOME",
        "TMPDIR",
        "TMP",
        "TEMP",
        # shells
        "SHELL",
        "IFS",
        "ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "CDPATH",
        "GLOBIGNORE",
        "PROMPT_COMMAND",
        "ZDOTDIR",
        # interpreters and their module paths
        "CLASSPATH",
        "VIRTUAL_ENV",
        "TCLLIBPATH",
        "QT_PLUGIN_PATH",
        "GST_PLUGIN_PATH",
        # glibc: loaders of code or data (gconv modules, locales, message catalogs, resolver, time zones)
        "GCONV_PATH",
        "GETCONF_DIR",
        "GLIBC_TUNABLES",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "LOCPATH",
        "NIS_PATH",
        "NLSPATH",
        "RESOLV_HOST_CONF",
        "RES_OPTIONS",
        "TZDIR",
        "TERMINFO",
        "TERMINFO_DIRS",
    }
)


def check_environment(environment: Mapping[str, object]) -> dict[str, str]:
    """The caller's variables for the validator, or `InvalidInputError` naming every refused one.

    Refused: names that are not `[A-Za-z_][A-Za-z0-9_]*`, the service's and the loaders' names above
    (case-insensitive), values that are not strings or contain a NUL, and more than the limits allow.
    """
    problems: list[str] = []
    if len(environment) > MAX_VARIABLES:
        problems.append(f"at most {MAX_VARIABLES} variables, got {len(environment)}")
    malformed = [name for name in environment if not _well_formed(name)]
    if malformed:
        problems.append(
            f"names must match {NAME.pattern} and be at most {MAX_NAME_LENGTH} characters: "
            + ", ".join(_shown(name) for name in malformed)
        )
    refused = sorted(name for name in environment if _well_formed(name) and refused_name(name))
    if refused:
        problems.append(
            "reserved for the service, or unsafe for a validator (loader, interpreter, shell and path "
            "variables): " + ", ".join(refused)
        )
    not_strings = sorted(_shown(name) for name, value in environment.items() if not isinstance(value, str))
    if not_strings:
        problems.append("values must be strings: " + ", ".join(not_strings))
    values = {name: value for name, value in environment.items() if isinstance(value, str)}
    with_nul = sorted(_shown(name) for name, value in values.items() if "\0" in value)
    if with_nul:
        problems.append("values must not contain a NUL character: " + ", ".join(with_nul))
    too_long = sorted(_shown(name) for name, value in values.items() if len(value) > MAX_VALUE_LENGTH)
    if too_long:
        problems.append(f"values must be at most {MAX_VALUE_LENGTH} characters: " + ", ".join(too_long))
    total = sum(len(name) + len(value) for name, value in values.items())
    if total > MAX_TOTAL_LENGTH:
        problems.append(f"names and values must add up to at most {MAX_TOTAL_LENGTH} characters, got {total}")
    if problems:
        raise InvalidInputError("environment: " + "; ".join(problems))
    return dict(values)


def refused_name(name: str) -> bool:
    """True for a name only the service sets, or that loaders and interpreters act on."""
    upper = name.upper()
    return upper in REFUSED_NAMES or upper.startswith(REFUSED_PREFIXES)


def pack_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The job variable that carries the caller's (checked) variables to the harness."""
    checked = check_environment(environment)
    return {VALIDATOR_ENVIRONMENT_VARIABLE: json.dumps(checked, separators=(",", ":"), sort_keys=True)}


def unpack_environment(packed: str | None) -> dict[str, str]:
    """The caller's variables from the job variable (none: no variables), checked again."""
    if not packed:
        return {}
    try:
        environment = json.loads(packed)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{VALIDATOR_ENVIRONMENT_VARIABLE} is not JSON: {exc}") from None
    if not isinstance(environment, dict):
        raise InvalidInputError(f"{VALIDATOR_ENVIRONMENT_VARIABLE} must be a JSON object")
    return check_environment(environment)


def _well_formed(name: object) -> bool:
    return isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and NAME.fullmatch(name) is not None


def _shown(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 40 else text[:37] + "..."
