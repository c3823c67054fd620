"""`python -m server`'s settings: flags, each falling back to its environment variable
(README "Configuration")."""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from server import __main__ as server_main
from server import app as app_module
from server.app import Runtime
from server.settings import (
    DEFAULT_HOST,
    DEFAULT_IDLE_IN_TRANSACTION,
    DEFAULT_JOB_LEASE,
    DEFAULT_PORT,
    load_settings,
)
from tests.conftest import ROOT


def test_a_flag_wins_over_its_variable_even_a_malformed_one() -> None:
    assert load_settings(["--port", "9002"], {"PORT": "9001"}).port == 9002
    assert load_settings(["--port", "9002"], {"PORT": "not-a-port"}).port == 9002
    assert load_settings([], {"PORT": "9001"}).port == 9001
    assert load_settings([], {"PORT": ""}).port == DEFAULT_PORT  # empty is unset, as elsewhere
    assert load_settings([], {"JOB_LEASE_SECONDS": "12.5"}).job_lease_seconds == 12.5
    assert load_settings([], {"JOB_LEASE_SECONDS": ""}).job_lease_seconds == DEFAULT_JOB_LEASE
    assert load_settings([], {"PARSE_WORKERS": "0"}).parse_workers == 1
    idle = load_settings([], {"IDLE_IN_TRANSACTION_SECONDS": "2.5"}).idle_in_transaction_seconds
    assert idle == 2.5
    assert load_settings([], {}).idle_in_transaction_seconds == DEFAULT_IDLE_IN_TRANSACTION


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("JOB_LEASE_SECONDS", "soon"),
        ("JOB_LEASE_SECONDS", "0"),
        ("JOB_LEASE_SECONDS", "nan"),
        ("WS_INIT_TIMEOUT_SECONDS", "-1"),
        ("WS_INIT_TIMEOUT_SECONDS", "inf"),
        ("PARSE_WORKERS", "two"),
        ("IDLE_IN_TRANSACTION_SECONDS", "0"),
    ],
)
def test_a_malformed_variable_is_a_usage_error_naming_it(
    name: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        load_settings([], {name: value})
    assert exited.value.code == 2
    assert f"{name}={value!r}" in capsys.readouterr().err


def test_an_empty_host_variable_means_the_loopback_default_not_every_interface() -> None:
    # uvicorn binds "" to every interface
    assert load_settings([], {"HOST": ""}).host == DEFAULT_HOST
    assert load_settings([], {"HOST": "0.0.0.0"}).host == "0.0.0.0"


def test_a_port_flag_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        load_settings(["--port", "70000"], {})
    assert exited.value.code == 2
    assert "70000" in capsys.readouterr().err


def test_help_names_each_flags_variable_the_other_variables_and_the_defaults() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "server", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    for name in (
        "HOST", "PORT", "FIXTURE", "ADMIN_TOKEN", "DATA_DIR", "DATABASE_URL", "S3_ENDPOINT_URL",
        "S3_PUBLIC_ENDPOINT_URL", "S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION", "IDLE_IN_TRANSACTION_SECONDS", DEFAULT_HOST, str(DEFAULT_PORT),
    ):  # fmt: skip
        assert name in shown, name


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"accounts": 5}', "invalid fixture: accounts: expected a list, got 5"),
        ("not json", "invalid fixture: cannot read"),
    ],
)
def test_a_fixture_file_the_server_would_refuse_is_a_usage_error_before_anything_starts(
    tmp_path: Path, content: str, reason: str
) -> None:
    fixture = tmp_path / "fixture.json"
    fixture.write_text(content)
    started = subprocess.run(
        [sys.executable, "-m", "server", "--fixture", str(fixture), "--port", "0",
         "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode == 2, started.stderr
    lines = started.stderr.splitlines()
    assert len(lines) == 1 and reason in lines[0], started.stderr
    assert not (tmp_path / "data").exists()  # no PostgreSQL was started


def test_the_fixture_file_is_read_once_and_its_document_handed_to_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixture = tmp_path / "fixture.json"
    fixture.write_text('{"accounts": [{"id": 1, "name": "Shop", "slug": "shop"}]}')
    read: list[Path] = []
    read_bytes = Path.read_bytes

    def counted(path: Path) -> bytes:
        read.append(path)
        return read_bytes(path)

    runtimes: list[Runtime] = []
    monkeypatch.setattr(Path, "read_bytes", counted)
    monkeypatch.setattr(app_module, "Runtime", lambda *args: runtimes.append(Runtime(*args)))
    monkeypatch.setattr(server_main.uvicorn, "run", lambda app, **options: None)
    for module, name in (
        (gc, "set_threshold"),
        (sys, "setswitchinterval"),
        (logging, "basicConfig"),
    ):
        monkeypatch.setattr(module, name, lambda *args, **kwargs: None)  # the process's, not ours
    server_main.main(["--fixture", str(fixture), "--data-dir", str(tmp_path / "data")])
    assert read == [fixture]
    # what the runtime loads at its start, instead of reading (and checking) the file again
    assert [runtime.fixture for runtime in runtimes] == [
        {"accounts": [{"id": 1, "name": "Shop", "slug": "shop"}]}
    ]
