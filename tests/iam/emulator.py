"""moto, in process, enforcing the IAM roles and policies of the applied Terraform stage.

What moto does by itself (moto 5, `moto/iam/access_control.py`) and how this module completes it so that
it answers as AWS would for the calls the service makes (README.md in this directory has the details):

- Enforcement is off until `INITIAL_NO_AUTH_ACTION_COUNT` requests were made; `enforced()` sets the count
  to 0 for its block and back to "never" after it, so the fixtures set the stage up with the dummy
  credentials and the component runs with the credentials of its role only.
- Session policies (the `Policy` of AssumeRole) are stored but never evaluated: `check_action_permitted`
  is wrapped to also require the session policy's Allow (AWS grants the intersection).
- A trust policy naming a role does not match that role's sessions (moto compares the session ARN
  `arn:aws:sts::…:assumed-role/R/s` with `arn:aws:iam::…:role/R`): the trust check is redone with the
  role ARN of the session, as AWS does.
- Only S3, SQS, STS and IAM tell moto which resource a request touches; every other service (Batch, ECR,
  Secrets Manager, KMS, ...) is checked against the resource "*", which no least-privilege statement
  names. Secrets Manager is checked here against the ARN of the secret its request names (`provision`
  gives each secret the ARN of the stage's); the others by action only (an Allow statement whose Action
  matches).
- SQS's batch operations (SendMessageBatch, ...) are checked as actions of their own, which IAM does not
  have: each is checked as the single action that authorises it (SendMessage, ...).
- A multi-object delete (DeleteObjects) is checked against the bucket; AWS checks `s3:DeleteObject` on
  each key, and so does this module.
- Conditions are evaluated only for keys moto knows (`sts:ExternalId`); others (`kms:ViaService`,
  `aws:SecureTransport`, ...) are ignored, and bucket policies are not applied here.

Every check is recorded (role, action, resource, allowed) in `CALLS`, for the table of actions used.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import settings as moto_settings
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam import access_control
from moto.iam.access_control import AssumedRoleAccessKey, IAMPolicy, PermissionResult
from moto.iam.utils import format_incoming_conditional_values
from moto.secretsmanager.models import secretsmanager_backends
from moto.sts.models import sts_backends

from terraform.tfhelpers import state_resources

REGION = "us-east-1"
# Services whose requests moto maps to the resource they touch; others are checked against "*".
RESOURCE_AWARE = ("s3", "sqs", "sts", "iam")
# SQS's batch operations and the IAM action that authorises them (AWS's SQS API permissions reference).
SQS_BATCH_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
SESSION = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d+):assumed-role/(?P<role>[^/]+)/")


@dataclass(frozen=True)
class Call:
    role: str
    action: str
    resource: str
    allowed: bool


CALLS: list[Call] = []
_TEST_START = [0]


def begin_test() -> None:
    """Calls recorded from now on are the current test's (`test_calls`); `CALLS` keeps them all."""
    _TEST_START[0] = len(CALLS)


def calls_of_this_test() -> list[Call]:
    return CALLS[_TEST_START[0] :]


# The table of the terminal summary: component -> role, and each role's granted actions.
COMPONENTS: dict[str, str] = {}
GRANTS: dict[str, set[str]] = {}
# What the Lambda service itself does with a function's role (logs, network interfaces in the VPC,
# traces), not the component's code: left out of the "unused" column.
RUNTIME = re.compile(r"^(logs:(CreateLogStream|PutLogEvents)|ec2:.*|xray:.*)$")
# What a function's SQS event source mapping does with the function's role (polls its queue), when the
# role consumes a queue (the tests hand the messages to the handlers themselves).
EVENT_SOURCE = frozenset(
    {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}
)


def record_component(component: str, role: Role) -> None:
    """Name the component that runs with `role`, for the terminal summary's table."""
    COMPONENTS[component] = role.name
    GRANTS[role.name] = role.granted_actions()


def summary_rows() -> list[tuple[str, str, str, str, str]]:
    """(component, role, actions used (and denied), actions granted, unused grants) for each component."""
    rows = []
    for component, role in sorted(COMPONENTS.items()):
        granted = {a for a in GRANTS[role] if not RUNTIME.match(a)}
        if "sqs:ReceiveMessage" in granted:
            granted -= EVENT_SOURCE
        used = {c.action for c in CALLS if c.role == role and c.allowed}
        denied = sorted({c.action for c in CALLS if c.role == role and not c.allowed} - used)
        shown = ", ".join(sorted(used)) + (f" (denied: {', '.join(denied)})" if denied else "")
        short = re.sub(r"-\d{20,}[0-9a-f]*$", "-*", role)
        rows.append((component, short, shown, ", ".join(sorted(granted)), ", ".join(sorted(granted - used))))
    return rows


@dataclass(frozen=True)
class Role:
    """An IAM role of the applied stage with its policies, verbatim from the Terraform state."""

    name: str
    arn: str
    assume_policy: str
    inline: dict[str, str] = field(default_factory=dict)

    def granted_actions(self) -> set[str]:
        """Every action an Allow statement of the role's policies names."""
        found: set[str] = set()
        for document in self.inline.values():
            for statement in _statements(json.loads(document)):
                if statement.get("Effect") == "Allow":
                    actions = statement.get("Action", [])
                    found.update([actions] if isinstance(actions, str) else actions)
        return found


@dataclass(frozen=True)
class StageIam:
    """The roles of the applied stage, and what the components use: their functions' environments."""

    roles: dict[str, Role]
    function_roles: dict[str, str]  # function name -> role name
    environments: dict[str, dict[str, str]]  # function name -> its environment variables
    bucket: str
    queues: list[str]
    secrets: dict[str, str]  # secret name -> ARN (the service's own and the database's, RDS-managed)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StageIam:
        resources = state_resources(state)
        by_type: dict[str, list[dict[str, Any]]] = {}
        for resource in resources:
            by_type.setdefault(resource["type"], []).append(resource["values"])
        inline: dict[str, dict[str, str]] = {}
        for policy in by_type.get("aws_iam_role_policy", []):
            inline.setdefault(policy["role"], {})[policy["name"]] = policy["policy"]
        # Managed policies the stage defines itself, attached by ARN.
        managed = {p["arn"]: p["policy"] for p in by_type.get("aws_iam_policy", [])}
        for attachment in by_type.get("aws_iam_role_policy_attachment", []):
            if attachment["policy_arn"] in managed:
                inline.setdefault(attachment["role"], {})[attachment["policy_arn"]] = managed[
                    attachment["policy_arn"]
                ]
        roles = {
            r["name"]: Role(r["name"], r["arn"], r["assume_role_policy"], inline.get(r["name"], {}))
            for r in by_type.get("aws_iam_role", [])
        }
        functions = by_type.get("aws_lambda_function", [])
        return cls(
            roles=roles,
            function_roles={f["function_name"]: f["role"].rsplit("/", 1)[1] for f in functions},
            environments={
                f["function_name"]: ((f.get("environment") or [{}])[0].get("variables") or {})
                for f in functions
            },
            bucket=by_type["aws_s3_bucket"][0]["bucket"],
            queues=[q["name"] for q in by_type.get("aws_sqs_queue", [])],
            secrets=_secrets(by_type),
        )

    def role_of(self, function: str) -> Role:
        return self.roles[self.function_roles[function]]

    def role_named(self, prefix: str) -> Role:
        """The one role whose name starts with `prefix` (Terraform's `name_prefix` roles)."""
        (role,) = [r for name, r in self.roles.items() if name.startswith(prefix)]
        return role


def _secrets(by_type: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    secrets = {s["name"]: s["arn"] for s in by_type.get("aws_secretsmanager_secret", [])}
    for instance in by_type.get("aws_db_instance", []):
        for managed in instance.get("master_user_secret") or []:
            arn = managed["secret_arn"]
            secrets[secret_name(arn)] = arn
    return secrets


def secret_name(arn: str) -> str:
    """The name in a secret's ARN (`arn:…:secret:<name>-<6 characters AWS adds>`)."""
    return arn.split(":secret:", 1)[1].rsplit("-", 1)[0]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _session_of(key: Any) -> Any:
    """moto's record of the assumed-role session that `key` (a request's access key) belongs to."""
    for assumed in sts_backends[key.account_id][key.partition].assumed_roles:
        if assumed.access_key_id == key._access_key_id:
            return assumed
    return None


def _granting_action(policies: list[Any], action: str) -> str | None:
    """Workaround for services moto checks against "*": the action of an Allow statement that names
    `action` (IAM compares action names without case; moto's REST services give them in lower case)."""
    for policy in policies:
        for statement in _statements(IAMPolicy(policy)._policy_json):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            for pattern in [actions] if isinstance(actions, str) else actions:
                if re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), action, re.IGNORECASE):
                    return str(pattern)
    return None


def _check_action_permitted(self: Any, resource: str) -> None:
    # moto names SQS's batch operations as actions; IAM has none: each is authorised by its single action.
    self._action = SQS_BATCH_ACTIONS.get(self._action, self._action)
    if self._action == "s3:DeleteObject" and "/" not in resource:
        # DeleteObjects (POST /?delete): moto checks the bucket, AWS checks s3:DeleteObject on each key.
        body = self._body.decode() if isinstance(self._body, bytes) else str(self._body)
        for key in re.findall(r"<Key>(.*?)</Key>", body):
            _check_one(self, f"{resource}/{html.unescape(key)}")
        return
    _check_one(self, resource)


def _check_one(self: Any, resource: str) -> None:
    key = self._access_key
    role = key.arn.split("/")[1] if isinstance(key, AssumedRoleAccessKey) else key.arn
    allowed = False
    action = self._action
    try:
        service = action.split(":", 1)[0]
        if resource == "*" and service == "secretsmanager":
            resource = _secret_arn(self)
        if resource == "*" and service not in RESOURCE_AWARE:
            granting = _granting_action(key.collect_policies(), self._action)
            action = granting if granting and "*" not in granting else action
            if granting is None:
                self._raise_access_denied()
        else:
            _ORIGINAL_CHECK(self, resource)
        session = _session_of(key) if isinstance(key, AssumedRoleAccessKey) else None
        if session is not None and session.policy:
            verdict = IAMPolicy(session.policy).is_action_permitted(self._action, resource)
            if verdict != PermissionResult.PERMITTED:
                self._raise_access_denied()
        allowed = True
    finally:
        CALLS.append(Call(role, action, resource, allowed))


def _secret_arn(request: Any) -> str:
    """The ARN of the secret a Secrets Manager request names ("*" when it names none or an unknown one)."""
    try:
        secret_id = json.loads(request._body or b"{}").get("SecretId")
    except (json.JSONDecodeError, AttributeError):
        return "*"
    store = secretsmanager_backends[request.account_id][request._region].secrets
    return str(store[secret_id].arn) if secret_id and secret_id in store else "*"


def _check_role_trust_relationship(self: Any, role_arn: str) -> bool:
    principal = self._access_key.arn
    session = SESSION.match(principal)
    if session:  # AWS matches a role's sessions against a trust policy that names the role
        principal = f"arn:{session['partition']}:iam::{session['account']}:role/{session['role']}"
    role = self.backend.get_role_by_arn(role_arn)
    verdict = IAMPolicy(role.assume_role_policy_document).is_action_permitted(
        self._action, role_arn, principal, format_incoming_conditional_values(self._data)
    )
    return verdict == PermissionResult.PERMITTED


_ORIGINAL_CHECK = access_control.IAMRequestBase.check_action_permitted


@contextmanager
def patched_moto() -> Iterator[None]:
    """moto's IAM checks completed as the module docstring says, for the block."""
    base = access_control.IAMRequestBase
    saved = (base.check_action_permitted, base._check_role_trust_relationship)
    base.check_action_permitted = _check_action_permitted  # type: ignore[method-assign]
    base._check_role_trust_relationship = _check_role_trust_relationship  # type: ignore[method-assign]
    try:
        yield
    finally:
        base.check_action_permitted, base._check_role_trust_relationship = saved  # type: ignore[method-assign]


@contextmanager
def enforced() -> Iterator[None]:
    """IAM enforced for every request of the block (moto counts requests before it enforces)."""
    saved = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = saved


def provision(stage: StageIam) -> None:
    """The stage's bucket, queues and roles (each with its policies verbatim) in the current moto mock."""
    iam = boto3.client("iam", region_name=REGION)
    for role in stage.roles.values():
        iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=role.assume_policy)
        for name, document in role.inline.items():
            iam.put_role_policy(
                RoleName=role.name, PolicyName=name.rsplit("/", 1)[-1], PolicyDocument=document
            )
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=stage.bucket)
    sqs = boto3.client("sqs", region_name=REGION)
    for queue in stage.queues:
        sqs.create_queue(QueueName=queue)


def provision_secrets(stage: StageIam, values: dict[str, str]) -> dict[str, str]:
    """The stage's secrets (name -> value) in the current moto mock, each with the ARN the stage gives it
    (moto would give another suffix), so the functions' `*_SECRET_ARN` settings name them as deployed.
    Returns name -> ARN."""
    client = boto3.client("secretsmanager", region_name=REGION)
    store = secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets
    for name, value in values.items():
        client.create_secret(Name=name, SecretString=value)
        store[name].arn = stage.secrets[name]
    return {name: stage.secrets[name] for name in values}


def role_credentials(role: Role, session_name: str = "iam-test") -> dict[str, str]:
    """Environment variables with credentials of `role` (as Lambda gives a function its role's)."""
    answer = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=role.arn, RoleSessionName=session_name
    )
    credentials = answer["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }
