"""Object store memory benchmark: put and get a large object through each store, measure RSS growth.

Run by `make bench-store`. For each store (the local store on a temporary directory; the S3 store
talking HTTP to a moto server that this script starts on 127.0.0.1), a fresh child process:

1. builds the store and notes its RSS (VmRSS) as the baseline;
2. puts `--size-gib` GiB (default 2) from a generated, non-seekable stream (like a request body: the
   bytes never exist in memory at once), then reads the object back through `open()` and checks its
   S3 ETag against the one computed while generating;
3. reports the peak RSS (VmHWM, reset between phases through /proc/self/clear_refs) above the baseline.

moto keeps the objects in its own process's memory, so only the client process is measured: that is the
process the service runs. Goal: growth under 100 MiB per store, whatever the object size. Results go to
benchmarks/results/store_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GIB = 1024**3
MIB = 1024**2
BLOCK = MIB  # the stream repeats one random block: content does not change what memory is used
READ_SIZE = 8 * MIB
GOAL_MIB = 100
HERE = Path(__file__).resolve().parent
AREA = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-gib", type=float, default=2.0, help="object size in GiB (default 2)")
    parser.add_argument("--child", choices=["local", "s3"], help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = int(args.size_gib * GIB)
    if args.child:
        print(json.dumps(_child(args.child, size, args.endpoint, args.root)))
        return

    results = {"local": _run_local(size), "s3 (moto server)": _run_s3(size)}
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "system": platform.platform(),
        },
        "size_bytes": size,
        "goal_rss_growth_mib": GOAL_MIB,
        "stores": results,
        "passed": all(r["etag_ok"] and r["peak_growth_mib"] < GOAL_MIB for r in results.values()),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "store_memory.json").write_text(json.dumps(report, indent=2) + "\n")
    _print_table(report)
    if not report["passed"]:
        raise SystemExit(1)


# -- the parent: one child per store ------------------------------------------------------------------


def _run_local(size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as root:
        return _spawn(["--child", "local", "--root", root], size)


def _run_s3(size: int) -> dict[str, Any]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        return _spawn(["--child", "s3", "--endpoint", f"http://127.0.0.1:{port}"], size)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _spawn(arguments: list[str], size: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--size-gib", str(size / GIB), *arguments]
    output = subprocess.run(command, env=_environment(), check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _environment() -> dict[str, str]:
    # Only dummy credentials, and nothing that could point a client at a real AWS endpoint.
    drop = ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL")
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(drop) and not k.startswith("UPLOAD_")
    }
    return {**environment, **_AWS_ENVIRONMENT}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the moto server did not listen on 127.0.0.1:{port} within {timeout} s")


def _print_table(report: dict[str, Any]) -> None:
    size_mib = report["size_bytes"] / MIB
    print(f"object: {size_mib:.0f} MiB, goal: RSS growth < {GOAL_MIB} MiB (client process only)")
    columns = ("put s", "get s", "put +MiB", "get +MiB", "peak/goal", "etag")
    print(f"{'store':<18}" + "".join(f"{c:>10}" for c in columns))
    for name, r in report["stores"].items():
        values = (
            f"{r['put_seconds']:.1f}",
            f"{r['get_seconds']:.1f}",
            f"{r['put_growth_mib']:.1f}",
            f"{r['get_growth_mib']:.1f}",
            f"{r['peak_growth_mib'] / GOAL_MIB:.2f}",
            "ok" if r["etag_ok"] else "BAD",
        )
        print(f"{name:<18}" + "".join(f"{v:>10}" for v in values))


# -- the child: one store, measured from inside -------------------------------------------------------


def _child(kind: str, size: int, endpoint: str | None, root: str | None) -> dict[str, Any]:
    import io  # noqa: PLC0415 (the parent never needs these)

    from upload_common import boto_clients  # noqa: PLC0415
    from upload_common.checksums import S3EtagHasher, s3_part_size  # noqa: PLC0415
    from upload_common.storage import LocalObjectStore, ObjectStore, S3ObjectStore  # noqa: PLC0415

    class Generated(io.RawIOBase):
        """`size` bytes made on demand from one block; hashes them as they go out."""

        def __init__(self) -> None:
            self.block = os.urandom(BLOCK)
            self.left = size
            self.hasher = S3EtagHasher(s3_part_size(size))

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            view = memoryview(buffer).cast("B")
            length = min(len(view), self.left, BLOCK)
            view[:length] = self.block[:length]
            self.hasher.update(view[:length])
            self.left -= length
            return length

    store: ObjectStore
    if kind == "local":
        store = LocalObjectStore(Path(str(root)))
    else:
        client = boto_clients.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="bench")
        store = S3ObjectStore("bench", client)
    key = f"{AREA}/big object.bin"
    source = Generated()

    baseline = _rss_kib("VmRSS")
    _reset_peak()
    started = time.perf_counter()
    put = store.put(key, source)  # type: ignore[arg-type]
    put_seconds = time.perf_counter() - started
    put_peak = _rss_kib("VmHWM")

    _reset_peak()
    started = time.perf_counter()
    read_back = S3EtagHasher(s3_part_size(size))
    with store.open(key) as stream:
        while chunk := stream.read(READ_SIZE):
            read_back.update(chunk)
    get_seconds = time.perf_counter() - started
    get_peak = _rss_kib("VmHWM")
    store.delete_many([key])

    expected = source.hasher.hexdigest()
    return {
        "put_seconds": round(put_seconds, 2),
        "get_seconds": round(get_seconds, 2),
        "baseline_rss_mib": round(baseline / 1024, 1),
        "put_growth_mib": round((put_peak - baseline) / 1024, 1),
        "get_growth_mib": round((get_peak - baseline) / 1024, 1),
        "peak_growth_mib": round((max(put_peak, get_peak) - baseline) / 1024, 1),
        "etag": put.etag,
        "etag_ok": put.etag == expected == read_back.hexdigest() and read_back.bytes_seen == size,
    }


def _rss_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0])


def _reset_peak() -> None:
    # Writing 5 resets VmHWM to the current RSS (Linux), so each phase's peak is its own.
    Path("/proc/self/clear_refs").write_text("5")


if __name__ == "__main__":
    main()
