"""Checksum engine benchmark: ours against the seed's engine and against the machine's limit.

Run by `make bench-checksum`, which provides a separate environment with the seed's library (dcplib) in
it. In one run, on one file of `--size-gib` GiB (default 1):

- each algorithm alone on one thread, read from the file (GB/s), and hashed from memory (its pure cost);
- the seed's engine: dcplib's `ChecksummingSink` fed with the file in 256 KiB writes, as s3transfer's
  `download_fileobj` fed it in the seed;
- ours: `checksum_file`.

The machine's limit is cores / (sum of the algorithms' pure seconds per byte), capped by the slowest
algorithm that cannot be split (sha1, sha256, crc32c; the ETag's MD5 splits by part). Each timing is the
best of `--repeat` rounds, interleaved so that load from elsewhere hits every contender alike. Peak RSS
is measured in a fresh process that checksums a `--rss-size-gib` GiB file (default 4).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import crc32c

from upload_common.checksums import checksum_file

try:  # the seed's engine, installed only in the benchmark environment (.venv-bench)
    from dcplib.checksumming_io import ChecksummingSink
    from dcplib.s3_multipart import get_s3_multipart_chunk_size
except ImportError:
    raise SystemExit("dcplib is missing: `make bench-checksum` installs it in .venv-bench") from None

GIB = 1024**3
MIB = 1024**2
BLOCK = 64 * MIB  # the file is one random block repeated: content does not change hashing speed
READ_SIZE = 8 * MIB
SINK_WRITE_SIZE = 256 * 1024  # s3transfer's io_chunksize: the size of each write into the seed's sink
HERE = Path(__file__).resolve().parent
OURS = "ours: checksum_file"
GOALS = {"ratio_vs_dcplib": 1.8, "ratio_vs_limit": 0.85}
RSS_GOAL_MIB = 150
# VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts from its parent's RSS at fork/exec.
_RSS_CHILD = """
import sys
from pathlib import Path
from upload_common.checksums import checksum_file
checksum_file(sys.argv[1])
status = Path("/proc/self/status").read_text()
print(status.split("VmHWM:")[1].split()[0])
"""


def main() -> int:
    args = _parse_arguments()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    data = args.data_dir / "checksum-bench.bin"
    block = os.urandom(BLOCK)
    try:
        _write_file(data, block, args.size_gib * GIB)
        size = data.stat().st_size
        timings, cpu_timings = _measure(data, block, size, args.repeat)
        _write_file(data, block, args.rss_size_gib * GIB)
        rss_mib = _peak_rss_mib(data)
    finally:
        data.unlink(missing_ok=True)
    results = _results(timings, cpu_timings, size, rss_mib=rss_mib, args=args, load_before=load_before)
    _print(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {args.output}")
    return 0


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--size-gib", type=int, default=1, help="size of the timed file")
    parser.add_argument("--rss-size-gib", type=int, default=4, help="size of the file for peak RSS")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; each timing is the best")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "checksum.json")
    return parser.parse_args()


def _measure(path: Path, block: bytes, size: int, repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best wall-clock and best CPU seconds (all threads) of each contender over interleaved rounds."""
    contenders: dict[str, Callable[[], object]] = {}
    for name in ("md5", "sha1", "sha256", "crc32c"):
        contenders[f"{name} (file)"] = partial(_hash_file, path, name)
        contenders[f"{name} (memory)"] = partial(_hash_memory, block, size, name)
    contenders["dcplib ChecksummingSink"] = lambda: _dcplib(path)
    contenders[OURS] = lambda: checksum_file(path).as_dict()
    best = dict.fromkeys(contenders, float("inf"))
    best_cpu = dict.fromkeys(contenders, float("inf"))
    for round_number in range(repeat):
        outputs = {}
        for name, run in contenders.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            outputs[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
            best_cpu[name] = min(best_cpu[name], time.process_time() - cpu_start)
        if outputs["dcplib ChecksummingSink"] != outputs[OURS]:
            raise SystemExit(f"checksums differ from dcplib's: {outputs}")
        print(f"round {round_number + 1}/{repeat} done", file=sys.stderr)
    return best, best_cpu


def _updater(name: str) -> Callable[[memoryview], None]:
    if name == "crc32c":
        state = [0]

        def update(view: memoryview) -> None:
            state[0] = crc32c.crc32c(view, state[0])

        return update
    return hashlib.new(name).update


def _hash_file(path: Path, algorithm: str) -> None:
    update = _updater(algorithm)
    buffer = bytearray(READ_SIZE)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as file:
        while got := file.readinto(buffer):
            update(view[:got])


def _hash_memory(block: bytes, size: int, algorithm: str) -> None:
    update = _updater(algorithm)
    view = memoryview(block)
    for start in range(0, size, READ_SIZE):
        offset = start % len(block)
        update(view[offset : offset + min(READ_SIZE, size - start)])


def _dcplib(path: Path) -> dict[str, str]:
    sink = ChecksummingSink(get_s3_multipart_chunk_size(path.stat().st_size))
    with path.open("rb") as file:
        while chunk := file.read(SINK_WRITE_SIZE):
            sink.write(chunk)
    return dict(sink.get_checksums())


def _peak_rss_mib(path: Path) -> float:
    output = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return int(output.split()[-1]) / 1024  # VmHWM is in KiB


def _write_file(path: Path, block: bytes, size: int) -> None:
    with path.open("wb") as file:
        for start in range(0, size, len(block)):
            file.write(block[: size - start])


def _results(
    best: dict[str, float],
    best_cpu: dict[str, float],
    size: int,
    *,
    rss_mib: float,
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
) -> dict[str, object]:
    cores = len(os.sched_getaffinity(0))
    per_byte = {name: best[f"{name} (memory)"] / size for name in ("md5", "sha1", "sha256", "crc32c")}
    limit = min(cores / sum(per_byte.values()), 1 / max(per_byte[n] for n in ("sha1", "sha256", "crc32c")))
    throughput = {name: size / seconds / 1e9 for name, seconds in best.items()}
    ours = throughput[OURS]
    return {
        "ratio_vs_dcplib": round(ours / throughput["dcplib ChecksummingSink"], 3),
        "ratio_vs_limit": round(ours / (limit / 1e9), 3),
        "peak_rss_mib_4gib": round(rss_mib, 1),
        "ours_gbps": round(ours, 3),
        "dcplib_gbps": round(throughput["dcplib ChecksummingSink"], 3),
        "limit_gbps": round(limit / 1e9, 3),
        "gbps": {name: round(value, 3) for name, value in throughput.items()},
        # Pure hashing seconds / our CPU seconds (all threads): 1.0 means the engine adds no work of its
        # own, so on an idle machine its speed is bounded only by how well the lanes fill the cores.
        "ours_cpu_efficiency": round(sum(best_cpu[f"{n} (memory)"] for n in per_byte) / best_cpu[OURS], 3),
        "cpu_seconds": {name: round(value, 3) for name, value in best_cpu.items()},
        "goals": {**GOALS, "peak_rss_mib_4gib_below": RSS_GOAL_MIB},
        "size_bytes": size,
        "rss_size_bytes": args.rss_size_gib * GIB,
        "repeat": args.repeat,
        "cores": cores,
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "machine": platform.machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _print(results: dict[str, object]) -> None:
    gbps = results["gbps"]
    assert isinstance(gbps, dict)
    print(f"\n{'contender':<28} {'GB/s':>8}")
    for name, value in gbps.items():
        print(f"{name:<28} {value:>8.3f}")
    print(f"{'machine limit':<28} {results['limit_gbps']:>8.3f}")
    print(
        f"{'ours: CPU efficiency':<28} {results['ours_cpu_efficiency']:>8.3f}  (pure hashing / CPU seconds)"
    )
    print()
    for key, goal in GOALS.items():
        value = results[key]
        assert isinstance(value, float)
        print(f"{key:<28} {value:>8.3f}  (goal >= {goal}: {'met' if value >= goal else 'NOT met'})")
    rss = results["peak_rss_mib_4gib"]
    assert isinstance(rss, float)
    verdict = "met" if rss < RSS_GOAL_MIB else "NOT met"
    print(f"{'peak_rss_mib_4gib':<28} {rss:>8.1f}  (goal < {RSS_GOAL_MIB}: {verdict})")
    print(f"load average before/after: {results['load_average_before']} / {results['load_average_after']}")


if __name__ == "__main__":
    raise SystemExit(main())
