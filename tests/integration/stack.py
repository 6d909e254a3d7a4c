"""The whole service as real processes (`tools/supervise.py` over the Procfile), driven over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import boto3
import httpx

from upload_client import Client

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TEST_USER = pwd.getpwuid(os.geteuid()).pw_name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """`make run` in a working directory of its own: API, workers, scheduler, dispatcher."""

    def __init__(self, workdir: Path, environment: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("UPLOAD_")},
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "UPLOAD_PORT": str(self.port),
            # Validators run as the test's user: this environment's Python may lie where only that
            # user can reach it (e.g. under /root). Another user is tested in tests/batch_validator.
            "UPLOAD_VALIDATOR_USER": TEST_USER,
            **environment,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "stack.log"
        self._log_handle: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_key(self) -> str:
        if "UPLOAD_API_KEYS" in self.environment:
            return self.environment["UPLOAD_API_KEYS"].split(",")[0]
        return (self.workdir / "var" / "api_key").read_text().strip()

    def migrate(self) -> None:
        subprocess.run(
            [BIN / "upload-db", "upgrade"],
            cwd=self.workdir,
            env=self.environment,
            check=True,
            capture_output=True,
        )

    def start(self, procfile: Path | None = None) -> Stack:
        self._log_handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "supervise.py"), str(procfile or ROOT / "Procfile")],
            cwd=self.workdir,
            env=self.environment,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not come up:\n{self.output()}")

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            if kill:  # every process at once (each runs in its own session): none gets to finish anything
                for pid in [*descendants(self.process.pid), self.process.pid]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            else:
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Api-Key": self.api_key}, timeout=60)

    def api(self) -> Client:
        """The project's typed client of this stack's API (`upload_client`)."""
        return Client(self.url, self.api_key, timeout=60)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (read from /proc), children first."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found.extend(children)
        frontier = children
    return found


def wait_until(
    predicate: object, *, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached in {timeout} s")


# --- AWS mode: what Terraform creates, on a moto server ---

BUCKET = "upload-integration"
PREFIX = "upload-it"
ACCOUNT = "123456789012"
MIB = 1024 * 1024


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")


def provision(endpoint: str) -> str:
    """What Terraform creates: the bucket, the queues with their DLQs, the S3 → SQS notification, the role."""
    s3, sqs, iam = (client(name, endpoint) for name in ("s3", "sqs", "iam"))
    s3.create_bucket(Bucket=BUCKET)
    for name in ("checksum", "deletion", "validation"):
        dlq = sqs.create_queue(QueueName=f"{PREFIX}-{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sqs.create_queue(
            QueueName=f"{PREFIX}-{name}",
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "4"})
            },
        )
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{PREFIX}-checksum",
                    "Events": ["s3:ObjectCreated:*"],
                }
            ]
        },
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    return str(
        iam.create_role(RoleName="upload-submitter", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    )


def submitter_client(endpoint: str, credentials: dict[str, str]) -> Any:
    """An S3 client with the credentials `POST /v1/area/{uuid}/credentials` issued (a submitter's)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def aws_environment(endpoint: str, role: str) -> dict[str, str]:
    """The settings of a stack that uses the provisioned bucket, queues and role on `endpoint`."""
    return {
        "UPLOAD_STORAGE_URL": f"s3://{BUCKET}",
        "UPLOAD_S3_ENDPOINT_URL": endpoint,
        "UPLOAD_QUEUE_URL": f"{endpoint}/{ACCOUNT}/{PREFIX}",
        "UPLOAD_SUBMITTER_ROLE_ARN": role,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
