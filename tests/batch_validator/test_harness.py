"""`upload-validate` end to end on the local store: real processes, a real callback server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from batch_validator.harness_support import (
    AREA,
    BIN,
    JOB_ID,
    TEST_USER,
    TOKEN,
    VALIDATION_ID,
    CallbackServer,
    free_port,
    is_running,
    job_environment,
    run_harness,
    write_script,
)

GOOD_FASTQ = b"@r1\nACGT\n+\nIIII\n"
RESULT_FIELDS = {
    "validation_id",
    "command",
    "exit_code",
    "status",
    "stdout",
    "stderr",
    "duration_s",
    "exception",
    "upload_area_id",
    "names",
}


def stored(store_root: Path, name: str, content: bytes) -> str:
    """Store a file in the test area; return its file:// URL, percent-encoded once (as the scheduler)."""
    path = store_root / AREA / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return f"file://{quote(str(path))}"


def test_valid_fastq_is_validated_with_exit_0(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    url = stored(store_root, "reads/sample 1.fastq.gz", gzip.compress(GOOD_FASTQ))
    env = job_environment(callback_server.callback_url(), staging_dir)

    done = run_harness("--validator", "upload-validator-fastq", url, env=env)

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING", "VALIDATED"]
    validating, validated = callback_server.reports
    assert validating.path == f"/v1/area/{AREA}/update_validation/{VALIDATION_ID}"
    assert {report.authorization for report in callback_server.reports} == {f"Bearer {TOKEN}"}
    assert validating.body == {
        "status": "VALIDATING",
        "job_id": JOB_ID,
        "payload": {"upload_area_id": AREA, "names": ["reads/sample 1.fastq.gz"]},
    }
    results = validated.body["payload"]
    assert validated.body["job_id"] == JOB_ID
    assert set(results) == RESULT_FIELDS
    assert results["exit_code"] == 0
    assert results["status"] == "completed"
    assert results["stdout"] == "valid\n"
    assert results["exception"] is None
    assert results["validation_id"] == VALIDATION_ID
    assert results["upload_area_id"] == AREA
    assert results["names"] == ["reads/sample 1.fastq.gz"]
    assert results["command"].startswith("upload-validator-fastq ")
    assert results["command"].endswith(f"/{AREA}/reads/sample 1.fastq.gz")
    assert isinstance(results["duration_s"], float)
    assert list(staging_dir.iterdir()) == []  # unstaged


def test_invalid_fastq_is_validated_with_exit_1_and_the_reason_on_stdout(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    url = stored(store_root, "bad.fastq", b"@r1\nACGT\n+\nIII\n")

    done = run_harness(
        "--validator",
        "upload-validator-fastq",
        url,
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING", "VALIDATED"]
    results = callback_server.final().body["payload"]
    assert results["exit_code"] == 1
    assert results["status"] == "completed"
    assert results["stdout"].startswith("invalid: ")
    assert "bad.fastq: record 1, line 4: the quality has 3 characters, the sequence 4" in results["stdout"]


def test_two_files_keep_their_order_and_are_the_stored_files(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path, tmp_path: Path
) -> None:
    validator = write_script(tmp_path / "echo-args", 'for f in "$@"; do echo "$f"; cat "$f"; done\n')
    second = stored(store_root, "z/second é.txt", b"second content\n")
    first = stored(store_root, "a 100%.txt", b"first content\n")

    done = run_harness(
        "--validator",
        str(validator),
        second,
        first,
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 0, done.stderr
    assert callback_server.reports[0].body["payload"]["names"] == ["z/second é.txt", "a 100%.txt"]
    results = callback_server.final().body["payload"]
    lines = results["stdout"].splitlines()
    assert lines[0].endswith(f"/{AREA}/z/second é.txt")
    assert (lines[1], lines[3]) == ("second content", "first content")
    assert lines[2].endswith(f"/{AREA}/a 100%.txt")
    assert Path(lines[0]).parent.parent.parent.parent == staging_dir  # <staging>/validation-…/<area>/z/
    assert results["names"] == ["z/second é.txt", "a 100%.txt"]
    assert list(staging_dir.iterdir()) == []
    assert (store_root / AREA / "a 100%.txt").read_bytes() == b"first content\n"  # the stored file stays


def test_a_validator_past_its_timeout_is_killed_with_its_children_and_fails(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    validator = write_script(tmp_path / "slow", f'echo started; sleep 60 & echo $! > "{pid_file}"; wait\n')
    url = stored(store_root, "a.txt", b"x")
    started = time.monotonic()

    # The limit leaves a loaded machine ample time to reach `wait`; the child would sleep far longer.
    done = run_harness(
        "--validator",
        str(validator),
        "--timeout",
        "5",
        url,
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 55
    assert callback_server.statuses() == ["VALIDATING", "FAILED"]
    results = callback_server.final().body["payload"]
    assert set(results) == RESULT_FIELDS
    assert results["status"] == "timed_out"
    assert results["exception"] == "the validator ran longer than 5 s and was killed"
    assert results["stdout"] == "started\n"
    assert results["exit_code"] is not None
    assert results["exit_code"] < 0
    assert not is_running(int(pid_file.read_text()))
    assert list(staging_dir.iterdir()) == []


def test_a_validator_killed_by_a_signal_is_recorded_as_validated(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path, tmp_path: Path
) -> None:
    validator = write_script(tmp_path / "crash", "echo 'about to crash' >&2; kill -SEGV $$\n")

    done = run_harness(
        "--validator",
        str(validator),
        stored(store_root, "a.txt", b"x"),
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING", "VALIDATED"]
    results = callback_server.final().body["payload"]
    assert results["exit_code"] == -signal.SIGSEGV
    assert results["stderr"] == "about to crash\n"
    assert results["exception"] == "the validator was killed by signal 11 (SIGSEGV)"


def test_a_validator_that_exits_3_has_its_code_and_stderr_recorded(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    done = run_harness(
        "--validator",
        "sh -c 'echo \"cannot parse\" >&2; exit 3' validator",
        stored(store_root, "a.txt", b"x"),
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 0, done.stderr
    results = callback_server.final().body
    assert results["status"] == "VALIDATED"
    assert (results["payload"]["exit_code"], results["payload"]["stderr"]) == (3, "cannot parse\n")
    assert results["payload"]["exception"] is None


def test_output_is_bounded_to_its_last_64_kib(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    done = run_harness(
        "--validator",
        "sh -c 'head -c 300000 /dev/zero | tr \"\\0\" a; echo; echo the-end' validator",
        stored(store_root, "a.txt", b"x"),
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 0, done.stderr
    stdout = callback_server.final().body["payload"]["stdout"]
    marker, tail = stdout.split("\n", 1)
    assert marker == f"[truncated: the first {300009 - 64 * 1024} bytes were dropped]"
    assert len(tail.encode()) == 64 * 1024
    assert tail.endswith("a\nthe-end\n")


def test_a_missing_file_fails_with_the_reason(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    url = f"file://{quote(str(store_root / AREA / 'no such.fastq'))}"

    done = run_harness(
        "--validator",
        "upload-validator-fastq",
        url,
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["FAILED"]
    results = callback_server.final().body["payload"]
    assert set(results) == RESULT_FIELDS
    assert results["status"] == "aborted"
    assert results["exit_code"] is None
    assert results["exception"].startswith(f"no stored file 'no such.fastq' in area {AREA}")
    assert list(staging_dir.iterdir()) == []


def test_a_validator_that_cannot_be_found_fails(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    done = run_harness(
        stored(store_root, "a.txt", b"x"), env=job_environment(callback_server.callback_url(), staging_dir)
    )  # the default validator, /validator, does not exist here

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING", "FAILED"]
    assert callback_server.final().body["payload"]["exception"] == (
        "cannot run the validator '/validator': No such file or directory"
    )


def test_a_url_that_is_not_a_store_file_fails(callback_server: CallbackServer, staging_dir: Path) -> None:
    done = run_harness(
        "https://example.org/x", env=job_environment(callback_server.callback_url(), staging_dir)
    )

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["FAILED"]
    results = callback_server.final().body["payload"]
    assert results["exception"] == "'https://example.org/x': only s3:// and file:// URLs can be validated"
    assert results["upload_area_id"] == AREA  # taken from the callback URL


def test_caller_variables_reach_the_validator_but_the_token_does_not(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    env = job_environment(callback_server.callback_url(), staging_dir, {"SAMPLE_KIND": "paired"})

    run_harness(
        "--validator",
        "sh -c 'echo \"$SAMPLE_KIND ${UPLOAD_CALLBACK_TOKEN:-no-token}\"' validator",
        stored(store_root, "a.txt", b"x"),
        env=env,
    )

    assert callback_server.final().body["payload"]["stdout"] == "paired no-token\n"


def test_callbacks_are_retried_on_5xx(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    callback_server.answers.extend([503, 503])

    done = run_harness(
        "--validator",
        "true",
        stored(store_root, "a.txt", b"x"),
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING", "VALIDATING", "VALIDATING", "VALIDATED"]


def test_an_undeliverable_validating_report_does_not_stop_the_validation(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path
) -> None:
    callback_server.answers.extend([503] * 5)  # every attempt at VALIDATING fails

    done = run_harness(
        "--validator",
        "echo ran",
        stored(store_root, "a.txt", b"x"),
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 0, done.stderr
    assert callback_server.statuses() == ["VALIDATING"] * 5 + ["VALIDATED"]
    assert callback_server.final().body["payload"]["stdout"].startswith("ran ")
    assert "could not report VALIDATING" in done.stderr


def test_a_callback_that_is_down_for_good_ends_with_a_clear_error(
    store_root: Path, staging_dir: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1/area/{AREA}/update_validation/{VALIDATION_ID}"

    done = run_harness(
        "--validator", "true", stored(store_root, "a.txt", b"x"), env=job_environment(down, staging_dir)
    )

    assert done.returncode == 1
    assert f"could not report VALIDATED to {down} after 5 attempt(s)" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(staging_dir.iterdir()) == []


def test_a_refused_validating_report_stops_the_job(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path, tmp_path: Path
) -> None:
    callback_server.answers.append(409)
    marker = tmp_path / "ran"

    done = run_harness(
        "--validator",
        f"touch {marker}",
        stored(store_root, "a.txt", b"x"),
        env=job_environment(callback_server.callback_url(), staging_dir),
    )

    assert done.returncode == 1
    assert "answered HTTP 409" in done.stderr
    assert "Traceback" not in done.stderr
    assert callback_server.statuses() == ["VALIDATING"]  # 4xx is final: no retry, no further report
    assert not marker.exists()
    assert list(staging_dir.iterdir()) == []


def test_sigterm_kills_the_validator_and_reports_failed(
    callback_server: CallbackServer, store_root: Path, staging_dir: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "validator.pid"
    validator = write_script(tmp_path / "slow", f'echo $$ > "{pid_file}"; sleep 60\n')
    env = job_environment(callback_server.callback_url(), staging_dir)
    harness = subprocess.Popen(
        [str(BIN / "upload-validate"), "--validator", str(validator), stored(store_root, "a.txt", b"x")],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The condition: the validator runs (it wrote its pid). A stop that lands while the harness is
    # still starting it is held until the harness tracks it (test_runner), so no timing is assumed.
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert harness.poll() is None, "the harness ended before the validator started"
        assert time.monotonic() < deadline, "the validator never started"
        time.sleep(0.05)

    harness.send_signal(signal.SIGTERM)
    _, stderr = harness.communicate(timeout=30)

    assert harness.returncode == 0, stderr
    assert callback_server.statuses() == ["VALIDATING", "FAILED"]
    results = callback_server.final().body["payload"]
    assert results["status"] == "aborted"
    assert results["exception"] == "the harness was stopped (SIGTERM) while the validator ran"
    assert not is_running(int(pid_file.read_text()))
    assert list(staging_dir.iterdir()) == []


def test_missing_job_variables_are_named_with_exit_2(staging_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPLOAD_")}

    done = run_harness("file:///nowhere", env=env)

    assert done.returncode == 2
    assert "UPLOAD_VALIDATION_ID, UPLOAD_CALLBACK_URL, UPLOAD_CALLBACK_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_report_prints_the_results(store_root: Path, staging_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPLOAD_")} | {
        "UPLOAD_STAGING_DIR": str(staging_dir),
        "UPLOAD_VALIDATOR_USER": TEST_USER,
    }

    done = run_harness(
        "--no-report", "--validator", "upload-validator-json", stored(store_root, "m.json", b"{"), env=env
    )

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["status"] == "VALIDATED"
    assert printed["payload"]["exit_code"] == 1
    assert "m.json: line 1, column 2: Unexpected end of file" in printed["payload"]["stdout"]
