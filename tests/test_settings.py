"""`python -m server`'s settings: flags, each falling back to its environment variable
(README "Configuration")."""

from __future__ import annotations

import pytest

from server.settings import DEFAULT_JOB_LEASE, DEFAULT_PORT, load_settings


def test_a_flag_wins_over_its_variable_even_a_malformed_one() -> None:
    assert load_settings(["--port", "9002"], {"PORT": "9001"}).port == 9002
    assert load_settings(["--port", "9002"], {"PORT": "not-a-port"}).port == 9002
    assert load_settings([], {"PORT": "9001"}).port == 9001
    assert load_settings([], {"PORT": ""}).port == DEFAULT_PORT  # empty is unset, as elsewhere
    assert load_settings([], {"JOB_LEASE_SECONDS": "12.5"}).job_lease_seconds == 12.5
    assert load_settings([], {"JOB_LEASE_SECONDS": ""}).job_lease_seconds == DEFAULT_JOB_LEASE
    assert load_settings([], {"PARSE_WORKERS": "0"}).parse_workers == 1


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
    ],
)
def test_a_malformed_variable_is_a_usage_error_naming_it(
    name: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        load_settings([], {name: value})
    assert exited.value.code == 2
    assert f"{name}={value!r}" in capsys.readouterr().err
