"""The built-in validators on valid and invalid files, plain and gzip-compressed."""

from __future__ import annotations

import gzip
import io
import json as stdlib_json
import random
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from batch_validator.harness_support import BIN
from upload_batch_validator.builtins import BUILTIN_VALIDATORS
from upload_batch_validator.validators import fastq, json
from upload_batch_validator.validators import gzip as gzip_validator
from upload_batch_validator.validators._cli import InvalidFileError

GOOD_FASTQ = b"@read1 extra\nACGTNacgtn\n+\nIIIIIIIII!\n@read2\nRYSWKMBDHV\n+read2\n~~~~~~~~~~\n"


def check(
    main: Callable[[Sequence[str]], int], tmp_path: Path, capsys: pytest.CaptureFixture[str], *contents: bytes
) -> tuple[int, str]:
    """Run a validator's `main` on files with these contents; return its exit status and stdout."""
    paths = []
    for index, content in enumerate(contents):
        path = tmp_path / f"file{index}"
        path.write_bytes(content)
        paths.append(str(path))
    status = main(paths)
    return status, capsys.readouterr().out


@pytest.mark.parametrize(
    "content",
    [
        GOOD_FASTQ,
        GOOD_FASTQ.replace(b"\n", b"\r\n"),
        GOOD_FASTQ.rstrip(b"\n"),
        gzip.compress(GOOD_FASTQ),
        b"",
    ],
    ids=["plain", "crlf", "no-final-newline", "gzip", "empty"],
)
def test_fastq_accepts_well_formed_records(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(fastq.main, tmp_path, capsys, content) == (0, "valid\n")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"read1\nACGT\n+\nIIII\n", "record 1, line 1: the header line must start with '@'"),
        (
            GOOD_FASTQ + b"@r3\nACXT\n+\nIIII\n",
            "record 3, line 10: the sequence has a non-IUPAC character 'X'",
        ),
        (b"@r1\nACGT\n-\nIIII\n", "record 1, line 3: the separator line must start with '+'"),
        (b"@r1\nACGT\n+r2\nIIII\n", "record 1, line 3: the separator line repeats a different header"),
        (b"@r1\nACGT\n+\nIII\n", "record 1, line 4: the quality has 3 characters, the sequence 4"),
        (b"@r1\nACGT\n+\nII I\n", "record 1, line 4: the quality has a character outside '!'..'~': ' '"),
        (
            GOOD_FASTQ + b"@r3\nACGT\n",
            "record 3, line 10: truncated, the file ends after the record's sequence",
        ),
        (GOOD_FASTQ + b"\n", "record 3, line 9: truncated, the file ends after the record's header line"),
    ],
    ids=["header", "sequence", "separator", "separator-header", "length", "quality", "truncated", "blank"],
)
def test_fastq_names_the_rule_and_the_place(
    content: bytes, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(fastq.main, tmp_path, capsys, content)
    assert status == 1
    assert out.startswith(f"invalid: {tmp_path / 'file0'}: {reason}")


def test_fastq_reads_gzip_input_and_reports_its_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = gzip.compress(b"@r1\nACGT\n+\nIII\n")
    truncated = gzip.compress(GOOD_FASTQ * 100)[:-20]
    status, out = check(fastq.main, tmp_path, capsys, bad, truncated, gzip.compress(GOOD_FASTQ))
    assert status == 1
    lines = out.splitlines()
    assert "record 1, line 4: the quality has 3 characters" in lines[0]
    assert lines[1].startswith(f"invalid: {tmp_path / 'file1'}: broken gzip compression")
    assert lines[2] == "valid"


def test_gzip_accepts_intact_files_with_several_members(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_members = gzip.compress(b"first\n") + gzip.compress(b"second\n")
    assert check(gzip_validator.main, tmp_path, capsys, two_members, gzip.compress(b"")) == (
        0,
        "valid\nvalid\n",
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"plain text\n", "not gzip-compressed"),
        (b"", "not gzip-compressed"),
        (gzip.compress(b"x" * 100_000)[:-8], "truncated"),
        (
            gzip.compress(b"abc")[:-8] + b"\0\0\0\0\3\0\0\0",
            "corrupt: CRC check failed",
        ),
        (gzip.compress(b"abc") + b"garbage", "corrupt: Not a gzipped file"),
    ],
    ids=["plain", "empty", "truncated", "bad-crc", "trailing-garbage"],
)
def test_gzip_finds_damage(
    content: bytes, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(gzip_validator.main, tmp_path, capsys, content)
    assert status == 1
    assert out.startswith(f"invalid: {tmp_path / 'file0'}: {reason}")


@pytest.mark.parametrize(
    "content",
    [
        b'{"a": [1, 2.5e3, "\\u00e9", null, true]}',
        b"[]",
        b" \n42\n",
        '"caf\u00e9"'.encode(),
        gzip.compress(b"{}"),
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["object", "array", "number", "unicode", "gzip", "deep"],
)
def test_json_accepts_well_formed_documents(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(json.main, tmp_path, capsys, content) == (0, "valid\n")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"a": 1,\n "b": }', "line 2, column 7: Expecting value"),
        (b"", "line 1, column 1: Unexpected end of file"),
        (b"{} {}", "line 1, column 4: Extra data"),
        (b'{"a": NaN}', "line 1, column 7: Expecting value"),
        (b'"\xff"', "not UTF-8 at byte 1"),
        (b"[" * 100_000, "line 1, column 100001: Unexpected end of file"),
        (b'{"a":\n  "b\tc"}', "line 2, column 5: Invalid control character at"),
        (b'\n\n  ["abc', "line 3, column 4: Unterminated string starting at"),
        (gzip.compress(b'{"a": [1,\n2,]}'), "line 2, column 3: Expecting value"),
    ],
    ids=["syntax", "empty", "two-values", "nan", "not-utf8", "deep", "control", "unterminated", "gzip"],
)
def test_json_names_the_line_and_column(
    content: bytes, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = check(json.main, tmp_path, capsys, content)
    assert status == 1
    assert out.startswith(f"invalid: {tmp_path / 'file0'}: {reason}")


def test_json_larger_than_the_fast_path_is_streamed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_text = b"x" * (json.FAST_PATH_BYTES + 10)
    valid = b'{"reads": "' + long_text + b'",\n "n": [1, 2]}'
    invalid = b'{"reads": "' + long_text + b'",\n "n": [1, 2,]}'
    status, out = check(json.main, tmp_path, capsys, valid, invalid)
    assert status == 1
    assert out.splitlines() == ["valid", f"invalid: {tmp_path / 'file1'}: line 2, column 13: Expecting value"]


def test_json_agrees_with_the_standard_library_at_every_chunk_boundary() -> None:
    """Random documents, damaged at random, checked in chunks of 1 to 7 characters."""
    rng = random.Random(20261128)  # noqa: S311 (reproducible test data, not secrets)
    verdicts = {True: 0, False: 0}
    for _ in range(400):
        document = stdlib_json.dumps(
            random_value(rng, depth=3), ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1])
        ).encode()
        for text in (document, *(damaged(rng, document) for _ in range(3))):
            try:
                stdlib_json.loads(text.decode("utf-8"), parse_constant=reject)
                expected = True
            except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                expected = False
            try:
                json.check_json_streaming(io.BytesIO(text), chunk_size=rng.randint(1, 7))
                found = True
            except InvalidFileError:
                found = False
            assert found == expected, text
            verdicts[found] += 1
    assert min(verdicts.values()) > 400  # both valid and invalid documents were tried, many of each


def random_value(rng: random.Random, depth: int) -> object:
    kind = rng.randrange(8 if depth else 5)
    if kind == 0:
        return rng.choice([True, False, None])
    if kind == 1:
        return rng.choice([0, -1, 17, 3.25, -1.5e-7, 12345678901234567890])
    if kind in (2, 3, 4):
        return "".join(rng.choice('ab "\\\n\té€\x01/') for _ in range(rng.randrange(6)))
    if kind in (5, 6):
        return [random_value(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {random_value(rng, 0).__str__(): random_value(rng, depth - 1) for _ in range(rng.randrange(4))}


def damaged(rng: random.Random, document: bytes) -> bytes:
    at = rng.randrange(len(document) + 1)
    action = rng.randrange(3)
    if action == 0:
        return document[:at]
    if action == 1:
        return document[:at] + document[at + 1 :]
    return (
        document[:at]
        + rng.choice(
            [b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"e", b"-", b"0", b"\xc3", b"NaN", b"\t"]
        )
        + document[at:]
    )


def reject(name: str) -> None:
    raise ValueError(name)


def test_an_unreadable_file_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fastq.main([str(tmp_path / "missing.fastq")]) == 1
    assert "cannot read the file: No such file or directory" in capsys.readouterr().out


@pytest.mark.parametrize("image", sorted(BUILTIN_VALIDATORS))
def test_each_builtin_runs_as_its_console_script_and_as_a_module(image: str, tmp_path: Path) -> None:
    samples = {"fastq": GOOD_FASTQ, "gzip": gzip.compress(b"x"), "json": b"{}"}
    kind = image.rsplit("-", 1)[1]
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_bytes(samples[kind])
    bad.write_bytes(b"@\n" if kind != "json" else b"{")
    script = subprocess.run(
        [str(BIN / BUILTIN_VALIDATORS[image]), str(good), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    module = subprocess.run(
        [sys.executable, "-m", f"upload_batch_validator.validators.{kind}", str(good)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (script.returncode, module.returncode) == (1, 0)
    assert script.stdout.splitlines()[0] == "valid"
    assert script.stdout.splitlines()[1].startswith(f"invalid: {bad}: ")
    assert module.stdout == "valid\n"
    assert BUILTIN_VALIDATORS[image] == f"upload-validator-{kind}"


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        fastq.main([])
    assert raised.value.code == 2
    assert "usage: upload-validator-fastq" in capsys.readouterr().err
