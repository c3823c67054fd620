"""A pytest plugin that runs importserver as the stand-in for monday.com and Blue in another
project's test suite. Installed with the package, it is registered as the `importserver`
pytest11 entry point; without the entry point, load it with `-p server.testing`.

Fixtures (nothing starts unless a test asks for one of them):

- `importserver` (session): `python -m server` on a free port with the embedded PostgreSQL
  and S3 in a temporary data dir, an admin token, and the fixture file named by
  `--importserver-fixture PATH`, the `importserver_fixture` ini option, or an override of the
  `importserver_fixture_path` fixture (default: none). Stopped at the end of the session.
- `importserver_client` (function): resets the server (`POST /__admin/reset`) and yields an
  `ImportServerClient`: `url`, `graphql()`, `execute()`, `import_csv()`, `report_rows()`,
  `download_text()` and `admin` (`load_fixture`, `advance_clock`, `reset_clock`, `faults`,
  `clear_faults`, `outbox`, `job`).
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from server.cli import client as http_client
from server.cli import monday

# Re-exported for tests that expect an error: `pytest.raises(GraphQLError)`, then `.code`,
# `.message`, `.extensions` (e.g. `retryAfterMs`).
GraphQLError = http_client.GraphQLError
ClientError = http_client.ClientError

START_TIMEOUT = 120.0  # seconds for /healthz to answer 200 (the first start runs initdb)
STOP_TIMEOUT = 20.0  # seconds between SIGTERM and SIGKILL
PORT_ATTEMPTS = 3  # fresh ports to try when the one picked is taken before the server binds it
HEALTH_POLL = 0.2  # seconds between /healthz checks while starting
JOB_POLL = 0.2  # seconds between fetch_job_status calls in import_csv
JOB_TIMEOUT = 120.0  # seconds import_csv waits for a job to end
LOG_TAIL_LINES = 40  # lines of the server's log shown when it ended during the session
# Configuration the server would read from the environment instead of its embedded defaults.
SERVER_ENV = (
    "HOST", "PORT", "FIXTURE", "ADMIN_TOKEN", "DATA_DIR", "DATABASE_URL", "S3_ENDPOINT_URL",
    "S3_PUBLIC_ENDPOINT_URL", "S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
)  # fmt: skip


class ImportServerError(RuntimeError):
    """The server did not start; the message carries its log."""


@dataclass(frozen=True, kw_only=True)
class ImportServer:
    """A running `python -m server` process."""

    url: str
    admin_token: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    data_dir: Path,
    *,
    fixture: Path | None = None,
    admin_token: str | None = None,
    log_dir: Path | None = None,
    timeout: float = START_TIMEOUT,
) -> ImportServer:
    """Start `python -m server` with the embedded defaults in `data_dir` (its log in
    `log_dir`, default `data_dir`); return once /healthz answers 200."""
    admin_token = admin_token or secrets.token_hex(16)
    data_dir.mkdir(parents=True, exist_ok=True)  # the log goes there by default
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV}
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        log_path = (log_dir or data_dir) / f"server-{port}.log"
        command = [
            sys.executable, "-m", "server", "--host=127.0.0.1", f"--port={port}",
            f"--admin-token={admin_token}", f"--data-dir={data_dir}",
        ]  # fmt: skip
        if fixture is not None:
            command.append(f"--fixture={fixture}")
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = ImportServer(
            url=f"http://127.0.0.1:{port}",
            admin_token=admin_token,
            data_dir=data_dir,
            log_path=log_path,
            process=process,
        )
        try:
            healthy = _wait_healthy(server, timeout)
        except BaseException:  # Ctrl+C while it starts left it running, without its data dir
            stop_server(server)
            raise
        if healthy:
            return server
        if "address already in use" not in server.log().lower():
            raise ImportServerError(f"importserver exited early:\n{server.log()}")
    raise ImportServerError(f"importserver found no free port:\n{server.log()}")


def _wait_healthy(server: ImportServer, timeout: float) -> bool:
    """True once /healthz answers 200; False if the process exits first. Raises (after
    stopping it) if it is neither healthy nor gone in `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(HEALTH_POLL)
    stop_server(server)
    raise ImportServerError(f"importserver not healthy after {timeout:g} s:\n{server.log()}")


def stop_server(server: ImportServer) -> None:
    """SIGTERM (the server stops its embedded PostgreSQL and S3), SIGKILL if it lingers."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    stop_orphaned_postgres(server.data_dir)


def stop_orphaned_postgres(data_dir: Path) -> None:
    """Stop the embedded PostgreSQL a killed server left running in `data_dir` (SIGKILL, the
    `job_end` CRASH fault): it waits there for the next start, but the plugin deletes the
    folder, and the postmaster went on without it until the machine restarted."""
    pg_dir = data_dir / "pg"
    try:
        pid = int((pg_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        postmaster = psutil.Process(pid)
        if str(pg_dir) not in postmaster.cmdline():
            return  # another process took the pid of a postmaster gone since
        postmaster.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
        try:
            postmaster.wait(STOP_TIMEOUT)
        except psutil.TimeoutExpired:
            postmaster.kill()
    except (OSError, ValueError, psutil.Error):
        return  # none left, or it ended meanwhile


def log_tail(server: ImportServer) -> str:
    """The last LOG_TAIL_LINES lines of the server's log."""
    return "\n".join(server.log().splitlines()[-LOG_TAIL_LINES:])


class Admin:
    """The admin API (CONTRACT §5) of one server."""

    def __init__(self, client: http_client.Client, admin_token: str) -> None:
        self.client = client
        self.admin_token = admin_token

    def call(self, method: str, path: str, json: Any = None) -> Any:
        return self.client.call_admin(method, path, self.admin_token, json)

    def reset(self) -> None:
        """Delete all data, files, counters, faults and mail; load the start fixture again."""
        self.call("POST", "/__admin/reset")

    def load_fixture(self, fixture: Mapping[str, Any]) -> None:
        """Load a fixture (CONTRACT §4) on top of what is there."""
        self.call("POST", "/__admin/fixture", dict(fixture))

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the server's clock forward (rate-limit windows, expiry of URLs and jobs)."""
        return dict(self.call("POST", "/__admin/clock", {"advance_seconds": seconds}))

    def reset_clock(self) -> dict[str, Any]:
        return dict(self.call("POST", "/__admin/clock", {"reset": True}))

    def faults(self, operation: str, error: str, count: int = 1, **extra: Any) -> Any:
        """Make the next `count` calls of `operation` (a GraphQL field such as
        `ingest_items`, or `upload`) fail with the documented `error`."""
        body = {"operation": operation, "error": error, "count": count, **extra}
        return self.call("POST", "/__admin/faults", body)

    def clear_faults(self) -> None:
        self.call("DELETE", "/__admin/faults")

    def outbox(self) -> list[dict[str, Any]]:
        """The e-mails the server would have sent, newest last: {to, subject, body, links,
        sent_at}."""
        return list(self.call("GET", "/__admin/outbox"))

    def job(self, job_id: str) -> dict[str, Any]:
        """A job's full internal record."""
        return dict(self.call("GET", f"/__admin/jobs/{job_id}"))


class ImportServerClient(http_client.Client):
    """What a test gets: a client of the server (`url`; `graphql()` returns the JSON answer
    as it is, `execute()` the `data` of a query that must succeed), the monday import flow
    and the admin API. `token` is the default token of calls that name none."""

    def __init__(self, server: ImportServer, token: str | None = None) -> None:
        super().__init__(server.url, token)
        self.server = server
        self.admin = Admin(self, server.admin_token)

    def import_csv(
        self,
        board_id: str | int,
        group_id: str,
        csv_text: str | bytes,
        token: str | None = None,
        *,
        backfill: bool = False,
        timeout: float = JOB_TIMEOUT,
        **options: Any,
    ) -> dict[str, Any]:
        """monday's three steps: ingest_items (backfill_items) with `options` as named in the
        API (on_match, dry_run, report...), PUT the file, poll until the job ends. Returns the
        final `fetch_job_status` with its `job_id`."""
        content = csv_text.encode() if isinstance(csv_text, str) else csv_text
        return monday.run_import(
            self, str(board_id), group_id, content, backfill=backfill, token=token,
            options=options, interval=JOB_POLL, timeout=timeout,
        )  # fmt: skip

    def download_text(self, url: str) -> str:
        """The text behind a pre-signed link (a report, an export, a template)."""
        return self.download(url).decode("utf-8-sig")

    def report_rows(self, status: Mapping[str, Any]) -> list[dict[str, str]]:
        """The rows of a finished job's report CSV ([] when it has none)."""
        if not status.get("report_url"):
            return []
        return list(csv.DictReader(io.StringIO(self.download_text(str(status["report_url"])))))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("importserver", "importserver stand-in server")
    group.addoption(
        "--importserver-fixture",
        dest="importserver_fixture",
        metavar="PATH",
        default=None,
        help="fixture JSON the importserver fixture loads at start and on every reset "
        "(overrides the importserver_fixture ini option)",
    )
    parser.addini(
        "importserver_fixture",
        help="fixture JSON for the importserver fixture, relative to the ini file",
        default="",
    )


@pytest.fixture(scope="session")
def importserver_fixture_path(pytestconfig: pytest.Config) -> Path | None:
    """The fixture file the server loads; override this fixture to choose it in code."""
    given = pytestconfig.getoption("importserver_fixture")
    if given:
        return pytestconfig.invocation_params.dir / str(given)
    ini = str(pytestconfig.getini("importserver_fixture") or "")
    if ini:
        base = pytestconfig.inipath.parent if pytestconfig.inipath else pytestconfig.rootpath
        return base / ini
    return None


def check_fixture_file(path: Path) -> None:
    """Fail at once, naming the fault, for a fixture file the server would refuse: it exited
    mid-start and the reason was one traceback among hundreds of lines of its log."""
    # imported here: the plugin is loaded in every pytest run of the project
    from server import fixtures

    if not path.is_file():
        pytest.fail(f"importserver fixture file not found: {path}", pytrace=False)
    try:
        fixtures.read_fixture(path)
    except fixtures.InvalidFixture as exc:
        pytest.fail(f"importserver fixture file {path}: {exc.message}", pytrace=False)


@pytest.fixture(scope="session")
def importserver(
    importserver_fixture_path: str | os.PathLike[str] | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ImportServer]:
    """The server process, for the whole session."""
    # an override may well return the path as a string: it raised AttributeError (is_file)
    given = importserver_fixture_path
    fixture = None if given is None else Path(given)
    if fixture is not None:
        check_fixture_file(fixture)
    log_dir = tmp_path_factory.mktemp("importserver")  # kept after the session, for debugging
    # PostgreSQL's socket lives in its data dir: a short path keeps it under the ~107-byte
    # limit of a socket path, however deep the project's pytest temp dir is.
    data_dir = Path(tempfile.mkdtemp(prefix="importserver-"))
    try:
        server = start_server(
            data_dir, fixture=None if fixture is None else fixture.resolve(), log_dir=log_dir
        )
        try:
            yield server
        finally:
            stop_server(server)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def importserver_client(importserver: ImportServer) -> Iterator[ImportServerClient]:
    """A client of the server, reset to the start fixture before the test."""
    ended = importserver.process.poll()
    if ended is not None:  # else every later test failed with a bare CONNECTION_ERROR
        pytest.fail(
            f"importserver exited with status {ended} during the session (a test killed it?); "
            f"its log, {importserver.log_path}, ends:\n{log_tail(importserver)}",
            pytrace=False,
        )
    client = ImportServerClient(importserver)
    try:
        client.admin.reset()
        yield client
    finally:
        client.close()
