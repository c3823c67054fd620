"""Scratch folders (`server.scratch`): named by process, and swept when their process is gone,
by a server as it starts."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from server import scratch
from tests.conftest import start_server, stop_server


def ended_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_folder_is_named_by_its_kind_and_process() -> None:
    with scratch.folder("import") as path:
        assert Path(path).name.startswith(f"import-{os.getpid()}-")
        assert Path(path).is_dir()
    assert not Path(path).exists()
    with pytest.raises(ValueError):
        scratch.folder("other")


def test_sweep_removes_only_the_folders_of_ended_processes(tmp_path: Path) -> None:
    dead = ended_pid()
    gone = [tmp_path / f"import-{dead}-a1", tmp_path / f"blue-import-{dead}-b2",
            tmp_path / f"blue-count-{dead}-c3", tmp_path / f"export-{dead}-c4"]  # fmt: skip
    kept = [tmp_path / f"import-{os.getpid()}-d4", tmp_path / "import-e5f6g7h8",
            tmp_path / f"report-{dead}-i9"]  # fmt: skip
    for path in gone + kept:
        path.mkdir()
        (path / "upload.csv").write_text("name\nAcme\n")
    (tmp_path / f"import-{dead}-file").write_text("not a folder")
    assert scratch.sweep(tmp_path) == len(gone)
    assert [p for p in gone if p.exists()] == []
    assert all(p.exists() for p in kept)
    assert (tmp_path / f"import-{dead}-file").exists()


def test_a_starting_server_sweeps_what_a_killed_one_left(tmp_path: Path) -> None:
    left = Path(tempfile.gettempdir()) / f"import-{ended_pid()}-{secrets.token_hex(4)}"
    left.mkdir()
    (left / "upload.csv").write_text("name\nAcme\n")
    server = start_server(tmp_path)
    try:
        assert not left.exists()
    finally:
        stop_server(server)
