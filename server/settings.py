"""Settings, read once from flags and environment into one typed object (CONTRACT §1)."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import platformdirs

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_BUCKET = "imports"
DEFAULT_REGION = "us-east-1"
# how long a job stays claimed without a heartbeat before another runner may take it over
DEFAULT_JOB_LEASE = 30.0  # seconds
# How long a transaction may wait, idle, on its server process before PostgreSQL ends it and
# lets go of its locks: a process frozen mid-chunk (SIGSTOP, a paused VM) would otherwise hold
# its board's lock, and its job's, until it resumed. Well under the lease, so that the runner
# taking the job over finds them free; far above the gaps of a live chunk (milliseconds).
DEFAULT_IDLE_IN_TRANSACTION = 10.0  # seconds
# how long a websocket may wait before its connection_init, then it is closed with 4408
DEFAULT_WS_INIT_TIMEOUT = 10.0  # seconds
# Parsing worker processes: one core is left to the server process and PostgreSQL. On 2 cores
# a second worker gained nothing (measured: both cores are busy with one).
DEFAULT_PARSE_WORKERS = max(1, min(4, (os.cpu_count() or 2) - 1))
# credentials the embedded S3 endpoint accepts when none are configured
EMBEDDED_ACCESS_KEY = "embedded-access-key"
EMBEDDED_SECRET_KEY = "embedded-secret-key"


@dataclass(frozen=True, kw_only=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    fixture: Path | None = None
    admin_token: str | None = None
    data_dir: Path
    database_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_bucket: str = DEFAULT_BUCKET
    aws_access_key_id: str = EMBEDDED_ACCESS_KEY
    aws_secret_access_key: str = EMBEDDED_SECRET_KEY
    aws_region: str = DEFAULT_REGION
    run_jobs: bool = True
    job_lease_seconds: float = DEFAULT_JOB_LEASE
    idle_in_transaction_seconds: float = DEFAULT_IDLE_IN_TRANSACTION
    ws_init_timeout_seconds: float = DEFAULT_WS_INIT_TIMEOUT
    parse_workers: int = DEFAULT_PARSE_WORKERS


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("importserver"))


def load_settings(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from command-line flags, each falling back to its environment
    variable (unset or empty: the default). A malformed variable is a usage error naming it,
    unless its flag is given."""
    environ: Mapping[str, str] = os.environ if env is None else env
    parser = _parser(environ)
    args = parser.parse_args(argv)
    numbers = _EnvironmentNumbers(parser, environ)
    return Settings(
        host=args.host,
        port=args.port
        if args.port is not None
        else numbers.read("PORT", DEFAULT_PORT, _port, "a port number (0 to 65535)"),
        fixture=Path(args.fixture) if args.fixture else None,
        admin_token=args.admin_token or None,
        data_dir=Path(args.data_dir) if args.data_dir else default_data_dir(),
        database_url=environ.get("DATABASE_URL") or None,
        s3_endpoint_url=environ.get("S3_ENDPOINT_URL") or None,
        s3_public_endpoint_url=environ.get("S3_PUBLIC_ENDPOINT_URL") or None,
        s3_bucket=environ.get("S3_BUCKET") or DEFAULT_BUCKET,
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID") or EMBEDDED_ACCESS_KEY,
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY") or EMBEDDED_SECRET_KEY,
        aws_region=environ.get("AWS_REGION") or DEFAULT_REGION,
        job_lease_seconds=numbers.seconds("JOB_LEASE_SECONDS", DEFAULT_JOB_LEASE),
        idle_in_transaction_seconds=numbers.seconds(
            "IDLE_IN_TRANSACTION_SECONDS", DEFAULT_IDLE_IN_TRANSACTION
        ),
        ws_init_timeout_seconds=numbers.seconds("WS_INIT_TIMEOUT_SECONDS", DEFAULT_WS_INIT_TIMEOUT),
        parse_workers=max(
            1, numbers.read("PARSE_WORKERS", DEFAULT_PARSE_WORKERS, int, "a number of processes")
        ),
    )


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The flags, each defaulting to its environment variable."""
    parser = argparse.ArgumentParser(
        prog="python -m server",
        description="Run the import server. Each flag falls back to its environment\n"
        "variable; unset or empty means the default.",
        epilog=_ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # an empty HOST is unset too: uvicorn would listen on every interface for ""
    parser.add_argument(
        "--host",
        default=environ.get("HOST") or DEFAULT_HOST,
        help=f"env HOST; interface to listen on (default {DEFAULT_HOST})",
    )
    parser.add_argument("--port", type=_port, help=f"env PORT; HTTP port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--fixture",
        default=environ.get("FIXTURE"),
        metavar="PATH",
        help="env FIXTURE; JSON fixture loaded at start and by POST /__admin/reset",
    )
    parser.add_argument(
        "--admin-token",
        default=environ.get("ADMIN_TOKEN"),
        metavar="T",
        help="env ADMIN_TOKEN; enables the admin API /__admin/* (404 without it)",
    )
    parser.add_argument(
        "--data-dir",
        default=environ.get("DATA_DIR"),
        metavar="DIR",
        help=f"env DATA_DIR; where the embedded PostgreSQL lives (default {default_data_dir()})",
    )
    return parser


class _EnvironmentNumbers:
    """Numbers read from environment variables; a malformed one is the parser's usage error,
    naming the variable."""

    def __init__(self, parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
        self.parser = parser
        self.environ = environ

    def read(self, name: str, default: _N, convert: Callable[[str], _N], expected: str) -> _N:
        """The variable `name` read by `convert`, which raises ValueError unless it is
        `expected`."""
        text = self.environ.get(name)
        if not text:
            return default
        try:
            return convert(text)
        except ValueError:
            self.parser.error(f"{name}={text!r}: expected {expected}")

    def seconds(self, name: str, default: float) -> float:
        return self.read(name, default, _seconds, "a number of seconds above 0")


_N = TypeVar("_N", int, float)

_ENVIRONMENT_HELP = f"""\
environment variables without a flag:
  DATABASE_URL             PostgreSQL to use (unset: an embedded one in the data dir)
  S3_ENDPOINT_URL          S3 or MinIO to use (unset: an embedded one on a loopback port)
  S3_PUBLIC_ENDPOINT_URL   endpoint written into pre-signed URLs (default S3_ENDPOINT_URL)
  S3_BUCKET                bucket, created if missing (default {DEFAULT_BUCKET})
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
                           S3 credentials (default: the embedded endpoint's)
  AWS_REGION               signing region (default {DEFAULT_REGION})
  JOB_LEASE_SECONDS        claimed job's lease without a heartbeat (default {DEFAULT_JOB_LEASE:g})
  IDLE_IN_TRANSACTION_SECONDS
                           a transaction left idle this long is ended (default {DEFAULT_IDLE_IN_TRANSACTION:g})
  WS_INIT_TIMEOUT_SECONDS  wait for a websocket's connection_init (default {DEFAULT_WS_INIT_TIMEOUT:g})
  PARSE_WORKERS            parsing worker processes (default {DEFAULT_PARSE_WORKERS})
"""


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(text)
    return port


def _seconds(text: str) -> float:
    seconds = float(text)
    if not (math.isfinite(seconds) and seconds > 0):  # 0 would make the heartbeat spin
        raise ValueError(text)
    return seconds
