"""The database URL holds a password: `upload-db` never takes it from argv, and no error repeats it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from upload_common.db import make_engine
from upload_common.db.cli import main
from upload_common.errors import ConfigurationError

PASSWORD = "s3cret-Pa55"
UPLOAD_DB = str(Path(sys.executable).with_name("upload-db"))


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{PASSWORD}@host:bad/db",  # a port that is not a number
        f"postgresql//u:{PASSWORD}@host/db",  # no scheme separator
        f"not a url but {PASSWORD}",
    ],
)
def test_a_malformed_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ConfigurationError, match="UPLOAD_DATABASE_URL: not a database URL") as error:
        make_engine(url).dispose()
    assert PASSWORD not in str(error.value)


def test_an_unparsable_url_from_the_environment_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UPLOAD_DATABASE_URL", f"postgresql://u:{PASSWORD}@host:bad/db")
    assert main(["current"]) == 2
    captured = capsys.readouterr()
    assert "not a database URL" in captured.err
    assert PASSWORD not in captured.out + captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["upgrade", "--url", f"postgresql://u:{PASSWORD}@h/db"],
        ["upgrade", f"--url=postgresql://u:{PASSWORD}@h/db"],
        ["current", "--url", "sqlite:///var/upload.db"],
        [f"postgresql://u:{PASSWORD}@h/db"],  # argparse would quote a refused argument
        ["upgrade", f"postgresql://u:{PASSWORD}@h/db"],
    ],
)
def test_upload_db_takes_no_url_from_its_command_line(
    argv: list[str], in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(argv) == 2
    captured = capsys.readouterr()
    assert "UPLOAD_DATABASE_URL" in captured.err
    assert PASSWORD not in captured.out + captured.err
    assert not (in_tmp_cwd / "var").exists()  # nothing was migrated


def test_upload_db_reads_the_url_from_the_environment_a_file_or_stdin(in_tmp_cwd: Path) -> None:
    from_env, from_file, from_stdin = (in_tmp_cwd / f"{name}.db" for name in ("env", "file", "stdin"))
    (in_tmp_cwd / "url").write_text(f"sqlite:///{from_file}\n")
    runs = [
        ([UPLOAD_DB, "upgrade"], None, {"UPLOAD_DATABASE_URL": f"sqlite:///{from_env}"}),
        ([UPLOAD_DB, "upgrade", "--url-file", "url"], None, {}),
        ([UPLOAD_DB, "upgrade", "--url-file", "-"], f"sqlite:///{from_stdin}", {}),
    ]
    for argv, stdin, environment in runs:
        done = subprocess.run(
            argv,
            input=stdin,
            env={"PATH": "/usr/bin:/bin", **environment},
            cwd=in_tmp_cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert (done.returncode, done.stderr) == (0, ""), argv
        assert done.stdout.startswith("database at revision ")
    assert all(path.is_file() for path in (from_env, from_file, from_stdin))
    assert not (in_tmp_cwd / "var").exists()  # none fell back to the embedded default


def test_an_empty_url_file_is_refused(in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_tmp_cwd / "url").write_text("\n")
    assert main(["upgrade", "--url-file", "url"]) == 2
    assert "holds no database URL" in capsys.readouterr().err


def _exit_code(argv: list[str]) -> int:
    # argparse exits (SystemExit) on what it refuses itself; main returns on a refused --url.
    try:
        return main(argv)
    except SystemExit as exc:
        return int(str(exc.code))
