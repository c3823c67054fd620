"""`python -m server.cli` run as a subprocess against the running test server."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import os
import pty
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from server.cli import client as client_module
from server.cli import commands, monday
from server.cli.client import Client, ClientError
from server.cli.commands import Progress, wants_bar
from tests.conftest import Api, ServerProcess
from tests.importing import board_items, csv_text, item_count

CLI_TIMEOUT = 120.0  # seconds one CLI run may take
LEADS = csv_text(
    ["name", "status", "email"],
    [["Grace Hopper", "Working on it", "grace@example.com"], ["Alan Turing", "Done", "alan@example.com"]],
)  # fmt: skip
WITH_INVALID_ROW = csv_text(
    ["name", "status", "email"],
    [["Grace Hopper", "Done", "grace@example.com"], ["Bad Label", "No such label", "bad@example.com"]],
)  # fmt: skip


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


async def cli(server: ServerProcess, cwd: Path, *args: str, token: str | None = "tok-ada") -> Run:
    """Run the CLI as a user would, the server's URL and the token in its environment."""
    return await cli_at(server.url, cwd, *args, token=token)


async def cli_at(
    url: str, cwd: Path, *args: str, token: str | None = "tok-ada", stdin: bytes | None = None
) -> Run:
    process = await start_cli(url, cwd, *args, token=token, stdin=stdin is not None)
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin), CLI_TIMEOUT)
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


async def start_cli(
    url: str,
    cwd: Path,
    *args: str,
    token: str | None = "tok-ada",
    stdin: bool = False,
    stderr: int = asyncio.subprocess.PIPE,
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTSERVER_")}
    env["IMPORTSERVER_URL"] = url
    if token is not None:
        env["IMPORTSERVER_TOKEN"] = token
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", *args, cwd=cwd, env=env,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=stderr,
        # Ctrl+C as in a terminal, even when pytest was started with SIGINT ignored (`&`)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


async def cli_in_terminal(url: str, cwd: Path, *args: str) -> Run:
    """Run the CLI with its stderr on a terminal (a pty), as a user at a shell does."""
    leader, follower = pty.openpty()
    try:
        process = await start_cli(url, cwd, *args, stderr=follower)
    finally:
        os.close(follower)

    def read_terminal() -> bytes:
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the CLI, the terminal's last writer, is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        terminal = asyncio.get_running_loop().run_in_executor(None, read_terminal)
        stdout, _ = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
        stderr = await asyncio.wait_for(terminal, CLI_TIMEOUT)
    finally:
        os.close(leader)
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as file:
        return list(csv.DictReader(file))


def csv_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.csv"))


def folder_names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def counts(run: Run) -> dict[str, int]:
    """The `name: number` lines the CLI prints."""
    found = {}
    for line in run.stdout.splitlines():
        name, _, value = line.partition(": ")
        if value.isdigit():
            found[name] = int(value)
    return found


async def test_successful_import_prints_the_counts_and_exits_0(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", "100", "--group", "topics")
    assert run.returncode == 0, run
    assert ": COMPLETED" in run.stdout.splitlines()[0], run
    assert counts(run) == {
        "submitted": 2, "created": 2, "updated": 0, "skipped": 0, "invalid": 0, "failed": 0,
    }  # fmt: skip
    # stderr is no terminal: a plain line per new status, no bar
    assert "\r" not in run.stderr, run.stderr
    job_id = run.stderr.split(":")[0].removeprefix("job ")
    shown = run.stderr.splitlines()[1:]
    assert shown[-1] == f"job {job_id}: COMPLETED 100.0%", run.stderr
    assert all(line.startswith(f"job {job_id}: ") for line in shown), run.stderr
    assert len(shown) == len(set(shown)), run.stderr  # a line only when something changed
    items = await board_items(api)
    assert items["Grace Hopper"]["group"] == "topics"
    assert items["Alan Turing"]["values"]["status"] == "Done"
    assert not (tmp_path / "leads.report.csv").exists()


async def test_import_with_an_invalid_row_exits_1_and_saves_the_report(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    leads = write(tmp_path / "leads.csv", WITH_INVALID_ROW)
    run = await cli(server, tmp_path, "import", "leads.csv", "--board", "100", "--group", "topics")
    assert run.returncode == 1, run
    assert counts(run)["created"] == 1 and counts(run)["invalid"] == 1, run
    report_path = leads.with_suffix(".report.csv")
    assert f"report: {report_path.name}" in run.stdout
    report = read_csv(report_path)
    assert [(r["name"], r["__status"]) for r in report] == [("Bad Label", "invalid")]
    assert "status" in report[0]["__errors"]


async def test_upsert_updates_the_matched_item(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    leads = write(
        tmp_path / "leads.csv",
        csv_text(["name", "email", "status"], [["Renamed lead", "old@acme.example.com", "Stuck"]]),
    )
    run = await cli(
        server, tmp_path, "import", str(leads), "--board", "100", "--group", "topics",
        "--upsert", "email", "--json", "--quiet",
    )  # fmt: skip
    assert run.returncode == 0, run
    assert run.stderr == ""
    status = json.loads(run.stdout)
    assert status["status"] == "COMPLETED" and status["counts"]["updated"] == 1, status
    items = await board_items(api)
    assert items["Renamed lead"]["id"] == "1000"
    assert items["Renamed lead"]["values"]["status"] == "Stuck"


async def test_dry_run_leaves_the_board_untouched_and_reports_every_row(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    before = await item_count(api)
    leads = write(tmp_path / "leads.csv", WITH_INVALID_ROW)
    out = tmp_path / "check.csv"
    run = await cli(
        server, tmp_path, "import", str(leads), "--board", "100", "--group", "topics",
        "--dry-run", "--report", "all", "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 1, run  # the invalid row still counts
    assert "dry run: nothing was written" in run.stdout
    assert await item_count(api) == before
    assert [r["__status"] for r in read_csv(out)] == ["created", "invalid"]


async def test_rejected_file_exits_2_with_the_failure(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    bad = write(tmp_path / "bad.csv", "name,no_such_column\nx,y\n")
    run = await cli(server, tmp_path, "import", str(bad), "--board", "100", "--group", "topics")
    assert run.returncode == 2, run
    assert ": REJECTED" in run.stdout
    assert "failure: INVALID_UPLOAD: " in run.stdout and "no_such_column" in run.stdout


async def test_graphql_error_exits_2_with_its_code_and_message(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", "999", "--group", "topics")
    assert run.returncode == 2, run
    assert "error: NOT_FOUND: Board 999 not found" in run.stderr
    unauthenticated = await cli(
        server, tmp_path, "import", str(leads), "--board", "100", "--group", "topics",
        token="no-such-token",
    )  # fmt: skip
    assert unauthenticated.returncode == 2
    assert "error: UNAUTHENTICATED: Not Authenticated" in unauthenticated.stderr


async def test_injected_rate_limit_exits_2_with_its_code(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    fault = {"operation": "ingest_items", "error": "RATE_LIMIT_EXCEEDED", "count": 1}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", "100", "--group", "topics")
    assert run.returncode == 2, run
    assert "error: RATE_LIMIT_EXCEEDED: " in run.stderr


async def test_group_defaults_to_the_board_top_group(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", "100", "-q")
    assert run.returncode == 0, run
    assert (await board_items(api))["Grace Hopper"]["group"] == "topics"


async def test_group_defaults_to_the_top_group_that_is_still_open(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    # board 100's groups: topics, then closed; with topics archived the top group is closed
    await api.gql('mutation { archive_group(board_id: "100", group_id: "topics") { id } }')
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", "100", "-q")
    assert run.returncode == 0, run
    assert (await board_items(api))["Grace Hopper"]["group"] == "closed"


async def test_template_downloads_the_workspace_template(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    run = await cli(server, tmp_path, "template", "--project", "leads")
    assert run.returncode == 0, run
    with (tmp_path / "leads-template.csv").open(newline="", encoding="utf-8-sig") as file:
        header = next(csv.reader(file))
    assert header[:2] == ["Title", "List"]


async def test_export_waits_for_the_link_and_downloads_the_records(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    run = await cli(server, tmp_path, "export", "--project", "leads", "--out", "records.csv")
    assert run.returncode == 0, run
    assert "exported 1 records to records.csv" in run.stdout
    rows = read_csv(tmp_path / "records.csv")
    assert [row["Title"] for row in rows] == ["Existing lead"]


async def test_export_that_is_refused_exits_2(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    run = await cli(server, tmp_path, "export", "--project", "no-such-project")
    assert run.returncode == 2, run
    assert "error: " in run.stderr
    assert csv_files(tmp_path) == []


async def test_help_documents_every_command(server: ServerProcess, tmp_path: Path) -> None:
    run = await cli(server, tmp_path, "--help")
    assert run.returncode == 0
    for word in ("import FILE --board ID", "--upsert", "--dry-run", "export --project", "template"):
        assert word in run.stdout
    assert "IMPORTSERVER_URL" in run.stdout and "IMPORTSERVER_TOKEN" in run.stdout


async def test_missing_token_is_a_usage_error(server: ServerProcess, tmp_path: Path) -> None:
    run = await cli(server, tmp_path, "template", "--project", "leads", token=None)
    assert run.returncode == 2
    assert "IMPORTSERVER_TOKEN" in run.stderr


@asynccontextmanager
async def answering(status: int, body: bytes) -> AsyncIterator[str]:
    """A server that answers every request with `status` and the JSON `body` (a proxy's or a
    framework's own error page); its URL."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n")
             if line.lower().startswith(b"content-length:")),
            0,
        )  # fmt: skip
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, len(body), body)
        )
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listener.close()
        await listener.wait_closed()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"detail": "Internal Server Error"}'),
        (200, b'{"data": null}'),
        (200, b'{"errors": "boom"}'),
        (502, b'{"errors": [1]}'),
    ],
)
async def test_an_answer_that_is_not_graphql_exits_2_without_a_traceback(
    tmp_path: Path, status: int, body: bytes
) -> None:
    leads = write(tmp_path / "leads.csv", LEADS)
    async with answering(status, body) as url:
        runs = [
            await cli_at(url, tmp_path, "import", str(leads), "--board", "100", "--group", "g"),
            await cli_at(url, tmp_path, "import", str(leads), "--board", "100"),
            await cli_at(url, tmp_path, "template", "--project", "leads"),
            await cli_at(url, tmp_path, "export", "--project", "leads"),
        ]
    for run in runs:
        assert run.returncode == 2, run
        assert f"error: HTTP_{status}: not a GraphQL answer: " in run.stderr, run
        assert "Traceback" not in run.stderr, run


async def test_a_map_index_that_is_no_decimal_number_is_a_usage_error(
    server: ServerProcess, tmp_path: Path
) -> None:
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", "100", "--map", "name=²")
    assert run.returncode == 2, run
    assert "error: BAD_USER_INPUT: --map 'name=²'" in run.stderr, run


@pytest.mark.parametrize("seconds", ["-5", "0", "nan", "soon"])
async def test_a_timeout_that_is_not_above_0_is_a_usage_error_before_any_job(
    server: ServerProcess, tmp_path: Path, seconds: str
) -> None:
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(
        server, tmp_path, "import", str(leads), "--board", "100", f"--timeout={seconds}"
    )
    assert run.returncode == 2, run
    assert "argument --timeout: " in run.stderr, run
    assert "job " not in run.stderr, run  # none was started


async def test_export_with_an_endless_timeout_waits_for_its_link(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    run = await cli(server, tmp_path, "export", "--project", "leads", "--timeout", "inf", "-q")
    assert run.returncode == 0, run  # it raised OverflowError from the websocket's queue
    assert [row["Title"] for row in read_csv(tmp_path / "leads-export.csv")] == ["Existing lead"]


@pytest.mark.parametrize("out", ["no-such-folder/report.csv", "."])
async def test_an_out_file_that_cannot_be_written_stops_before_the_import(
    server: ServerProcess, api: Api, tmp_path: Path, out: str
) -> None:
    leads = write(tmp_path / "leads.csv", WITH_INVALID_ROW)
    before = await item_count(api)
    run = await cli(
        server, tmp_path, "import", str(leads), "--board", "100", "--out", out, "--report", "all"
    )
    assert run.returncode == 2, run
    assert run.stderr.startswith("error: BAD_USER_INPUT: "), run
    assert await item_count(api) == before  # the import did not run and lose its counts
    export = await cli(server, tmp_path, "export", "--project", "leads", "--out", out)
    assert export.returncode == 2 and "BAD_USER_INPUT" in export.stderr, export


async def test_ctrl_c_while_waiting_names_the_job_that_goes_on(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    slow = {"operation": "upload", "error": "SLOW", "delay_ms": 30000}
    assert (await api.admin("POST", "/__admin/faults", slow)).status_code == 200
    leads = write(tmp_path / "leads.csv", LEADS)
    process = await start_cli(server.url, tmp_path, "import", str(leads), "--board", "100")
    assert process.stderr is not None
    started = await asyncio.wait_for(process.stderr.readline(), CLI_TIMEOUT)
    job_id = started.decode().split(":")[0].removeprefix("job ")
    await asyncio.wait_for(process.stderr.readuntil(b"%\n"), CLI_TIMEOUT)  # polling now
    process.send_signal(signal.SIGINT)
    stdout, stderr = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
    assert process.returncode == 130, (stdout, stderr)
    assert f'fetch_job_status(job_id: "{job_id}")' in stderr.decode(), stderr
    assert stderr.decode().endswith("interrupted\n")


async def test_the_progress_bar_is_drawn_on_a_terminal(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli_in_terminal(
        server.url, tmp_path, "import", str(leads), "--board", "100", "--group", "topics"
    )
    assert run.returncode == 0, run
    assert "\r[" in run.stderr and "100.0% COMPLETED" in run.stderr, run.stderr  # the bar
    assert "COMPLETED 100.0%" not in run.stderr, run.stderr  # and no plain line


def test_progress_without_a_terminal_prints_a_line_per_new_status() -> None:
    stream = io.StringIO()
    progress = Progress(stream, bar=wants_bar(stream))
    for status, percent in [("QUEUED", 0), ("QUEUED", 0), ("PROCESSING", 10), ("PROCESSING", 20)]:
        progress.job("job 7", {"status": status, "progress_percentage": percent})
    progress.job("job 7", {"status": "COMPLETED", "progress_percentage": 100})
    assert stream.getvalue() == (
        "job 7: QUEUED 0.0%\njob 7: PROCESSING 10.0%\njob 7: COMPLETED 100.0%\n"
    )  # 20% came within LINE_INTERVAL of 10%


def test_progress_env_chooses_bar_or_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPORTSERVER_PROGRESS", "bar")
    assert wants_bar(io.StringIO())
    monkeypatch.setenv("IMPORTSERVER_PROGRESS", "lines")
    assert not wants_bar(sys.stderr)


def test_progress_bar_clears_the_end_of_a_longer_status() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress.draw(0, "UPLOAD_PENDING")
    progress.draw(50, "PROCESSING")
    first, second = stream.getvalue().split("\r")[1:]
    assert len(second) >= len(first), (first, second)


@pytest.mark.parametrize("token", ["tök", "tok-ada\nX-Other: 1", " tok-ada"])
async def test_a_token_http_cannot_carry_is_a_usage_error(
    server: ServerProcess, tmp_path: Path, token: str
) -> None:
    run = await cli(server, tmp_path, "template", "--project", "leads", token=token)
    assert run.returncode == 2, run
    assert "error: BAD_USER_INPUT: the token cannot be sent as an HTTP header" in run.stderr, run
    assert "Traceback" not in run.stderr and csv_files(tmp_path) == []


async def test_a_poll_refused_with_wait_is_asked_again_after_the_wait(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    fault = {
        "operation": "fetch_job_status", "error": "RATE_LIMIT_EXCEEDED", "count": 2,
        "retry_after_ms": 500,
    }  # fmt: skip
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", "100", "-q")
    assert run.returncode == 0, run  # it gave up with exit 2 while the job went on
    assert counts(run)["created"] == 2, run


async def test_a_poll_that_fails_with_an_internal_error_is_asked_again(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    fault = {"operation": "fetch_job_status", "error": "INTERNAL_SERVER_ERROR", "count": 2}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", "100")
    assert run.returncode == 0, run  # it gave up with exit 2 while the job went on
    assert counts(run)["created"] == 2, run
    assert run.stderr.count("status check failed (INTERNAL_SERVER_ERROR: ") == 2, run


async def test_a_poll_that_keeps_failing_gives_up_within_the_timeout_naming_the_job(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    fault = {"operation": "fetch_job_status", "error": "INTERNAL_SERVER_ERROR", "count": 1000}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(
        server, tmp_path, "import", str(leads), "--board", "100", "-q", "--timeout", "4"
    )
    assert run.returncode == 2, run
    first, second = run.stderr.splitlines()
    job_id = first.split(":")[0].removeprefix("job ")
    assert first == f'job {job_id}: it goes on on the server: fetch_job_status(job_id: "{job_id}")'
    assert second.startswith("error: INTERNAL_SERVER_ERROR: "), run
    assert f"(job {job_id}: gave up after " in second, run


@pytest.mark.parametrize("code", ["NOT_FOUND", "USER_UNAUTHORIZED", "BAD_USER_INPUT"])
async def test_a_poll_refused_for_good_ends_at_once_naming_the_job(
    server: ServerProcess, api: Api, tmp_path: Path, code: str
) -> None:
    fault = {"operation": "fetch_job_status", "error": code, "count": 1}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", "100", "-q")
    assert run.returncode == 2, run
    first, second = run.stderr.splitlines()
    job_id = first.split(":")[0].removeprefix("job ")
    assert first == f'job {job_id}: it goes on on the server: fetch_job_status(job_id: "{job_id}")'
    assert second.startswith(f"error: {code}: "), run


def test_a_poll_without_connection_or_with_a_proxy_error_is_asked_again() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.ConnectError("Connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(503, text="<html>Service Unavailable</html>"),
        httpx.Response(500, json={"errors": [{"message": "boom"}]}),
        httpx.Response(200, json={"data": {"fetch_job_status": {"status": "COMPLETED"}}}),
    ]
    asked: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(time.monotonic())
        given = answers.pop(0)
        if isinstance(given, Exception):
            raise given
        return given

    retried: list[str] = []
    with Client("http://server.test", "tok", transport=httpx.MockTransport(answer)) as client:
        status = monday.wait_for_job(
            client, "7", interval=0.05, timeout=30, patient=True,
            on_retry=lambda error, _seconds: retried.append(error.code),
        )  # fmt: skip
    assert status["status"] == "COMPLETED" and answers == []
    assert retried == ["CONNECTION_ERROR", "TIMEOUT", "HTTP_503", "GRAPHQL_ERROR"]
    waits = [later - earlier for earlier, later in itertools.pairwise(asked)]
    assert waits == sorted(waits), waits  # the backoff grows


def test_a_poll_refused_for_good_is_not_asked_again() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        error = {"message": "Job 7 not found", "extensions": {"code": "NOT_FOUND"}}
        return httpx.Response(200, json={"errors": [error]})

    transport = httpx.MockTransport(answer)
    with (
        Client("http://server.test", "tok", transport=transport) as client,
        pytest.raises(ClientError, match="NOT_FOUND"),
    ):
        monday.wait_for_job(client, "7", interval=0.01, timeout=30, patient=True)
    assert len(asked) == 1


async def test_a_status_check_waits_no_longer_than_the_timeout_left(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    slow = {"operation": "fetch_job_status", "error": "SLOW", "delay_ms": 12000}
    assert (await api.admin("POST", "/__admin/faults", slow)).status_code == 200
    leads = write(tmp_path / "leads.csv", LEADS)
    started = time.monotonic()
    run = await cli(
        server, tmp_path, "import", str(leads), "--board", "100", "-q", "--timeout", "2"
    )
    took = time.monotonic() - started
    assert run.returncode == 2, run
    assert took < 9, (took, run)  # its first status check waited the 12 s (up to 60 s)
    job_id = run.stderr.split(":")[0].removeprefix("job ")
    assert run.stderr.splitlines()[1].startswith("error: TIMEOUT: "), run
    assert f"(job {job_id}: gave up after 1 failed status checks" in run.stderr, run


async def test_an_export_request_waits_no_longer_than_the_timeout(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    slow = {"operation": "exportTodos", "error": "SLOW", "delay_ms": 7000}
    assert (await api.admin("POST", "/__admin/faults", slow)).status_code == 200
    started = time.monotonic()
    run = await cli(server, tmp_path, "export", "--project", "leads", "-q", "--timeout", "2")
    took = time.monotonic() - started
    assert run.returncode == 2, run
    assert took < 6, (took, run)  # exportTodos waited the 7 s (up to 60 s)
    assert "error: TIMEOUT: " in run.stderr, run
    assert csv_files(tmp_path) == []
    # the slow call ends (and its export starts) in this test, not in the next one
    await asyncio.sleep(max(0.0, 8 - took))


async def test_an_argument_that_is_not_utf8_is_a_usage_error(
    server: ServerProcess, tmp_path: Path
) -> None:
    board = os.fsdecode(b"10\xff")  # bytes a shell passes as they are
    leads = write(tmp_path / "leads.csv", LEADS)
    run = await cli(server, tmp_path, "import", str(leads), "--board", board, "--group", "topics")
    assert run.returncode == 2, run
    assert run.stderr.startswith("error: BAD_USER_INPUT: a value is not UTF-8 text: "), run
    assert "Traceback" not in run.stderr


async def test_a_file_read_from_a_pipe_is_imported_and_its_report_saved_here(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    run = await cli_at(
        server.url, tmp_path, "import", "/dev/stdin", "--board", "100", "--group", "topics",
        stdin=WITH_INVALID_ROW.encode(),
    )  # fmt: skip
    assert run.returncode == 1, run  # "Too much data for declared Content-Length" before
    assert counts(run)["created"] == 1 and counts(run)["invalid"] == 1, run
    assert "report: stdin.report.csv" in run.stdout, run
    assert [r["name"] for r in read_csv(tmp_path / "stdin.report.csv")] == ["Bad Label"]


async def test_an_out_file_that_is_the_imported_file_is_refused(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    leads = write(tmp_path / "leads.csv", WITH_INVALID_ROW)
    before = await item_count(api)
    run = await cli(server, tmp_path, "import", "leads.csv", "--board", "100", "--out", str(leads))
    assert run.returncode == 2, run
    assert "would overwrite FILE" in run.stderr, run
    assert leads.read_text() == WITH_INVALID_ROW  # the report replaced it
    assert await item_count(api) == before


async def test_a_url_given_with_its_graphql_endpoint_is_explained(
    server: ServerProcess, tmp_path: Path
) -> None:
    run = await cli_at(f"{server.url}/graphql", tmp_path, "template", "--project", "leads")
    assert run.returncode == 2, run
    assert "error: HTTP_404: " in run.stderr, run
    assert "give the server's base URL" in run.stderr, run  # was "not a GraphQL answer: Not Found"


async def test_a_report_that_cannot_be_saved_still_shows_the_outcome(
    server: ServerProcess, api: Api, tmp_path: Path
) -> None:
    slow = {"operation": "upload", "error": "SLOW", "delay_ms": 2000}
    assert (await api.admin("POST", "/__admin/faults", slow)).status_code == 200
    leads = write(tmp_path / "leads.csv", WITH_INVALID_ROW)
    folder = tmp_path / "reports"
    folder.mkdir()
    process = await start_cli(
        server.url, tmp_path, "import", str(leads), "--board", "100", "--out", "reports/r.csv"
    )
    assert process.stderr is not None
    await asyncio.wait_for(process.stderr.readuntil(b"%\n"), CLI_TIMEOUT)  # polling now
    folder.rmdir()  # gone before the report is saved
    stdout, stderr = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
    run = Run(process.returncode or 0, stdout.decode(), stderr.decode())
    assert run.returncode == 2, run
    assert counts(run)["created"] == 1 and counts(run)["invalid"] == 1, run  # were not shown
    assert "report:" not in run.stdout and "No such file or directory" in run.stderr, run


@asynccontextmanager
async def cut_short_downloads() -> AsyncIterator[str]:
    """A server whose exportCSVTemplate link (any POST) leads to a download (any GET) that
    breaks off after its first bytes; its URL."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"POST"):
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )  # fmt: skip
            await reader.readexactly(length)
            body = json.dumps({"data": {"exportCSVTemplate": f"{url}/template.csv"}}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nTitle,List\r\n")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(answer, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        yield url
    finally:
        listener.close()
        await listener.wait_closed()


async def test_a_download_cut_short_leaves_no_file_to_be_taken_for_whole(tmp_path: Path) -> None:
    async with cut_short_downloads() as url:
        run = await cli_at(url, tmp_path, "template", "--project", "leads")
    assert run.returncode == 2, run
    assert "error: CONNECTION_ERROR: " in run.stderr, run
    assert folder_names(tmp_path) == []  # leads-template.csv held the first 12 bytes


@pytest.mark.parametrize(("change", "now"), [("append", "more"), ("truncate", "fewer")])
async def test_a_file_that_changes_during_its_upload_exits_2_without_a_traceback(
    server: ServerProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: str,
    now: str,
) -> None:
    leads = write(tmp_path / "leads.csv", LEADS)
    put_file = Client.put_file

    def changing_put_file(
        client: Client, url: str, content: bytes | IO[bytes], size: int | None = None
    ) -> None:
        # the file is still being written (or cut) once the CLI has taken its size
        if change == "append":
            with leads.open("a", encoding="utf-8") as more:
                more.write("Ada Lovelace,Done,ada@example.com\r\n")
        else:
            os.truncate(leads, len(LEADS) // 2)
        put_file(client, url, content, size)

    monkeypatch.setattr(Client, "put_file", changing_put_file)
    args = ["import", str(leads), "--board", "100", "--group", "topics", "-q"]
    status = await asyncio.to_thread(
        commands.main, [*args, "--url", server.url, "--token", "tok-ada"]
    )
    stderr = capsys.readouterr().err
    assert status == 2, stderr
    job_line, error_line = stderr.splitlines()  # an h11 LocalProtocolError traceback before
    assert job_line.endswith(
        "its file may not be uploaded: the job waits until its upload URL expires"
    )
    assert error_line == (
        f"error: FILE_CHANGED: the file changed while it was being uploaded ({len(LEADS)} bytes "
        f"when the upload started, {now} now): import it again once nothing writes to it"
    )


def test_an_upload_of_a_file_that_grew_stops_short_of_its_declared_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "CHUNK_SIZE", 4)
    sent = []
    with pytest.raises(ClientError, match="FILE_CHANGED"):
        for piece in client_module.read_exactly(io.BytesIO(b"0123456789"), 8):
            sent.append(piece)
    assert b"".join(sent) == b"0123"  # the 8 declared bytes, once sent, were stored as the file
