"""`python -m server.cli` run as a subprocess against the running test server."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

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
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTSERVER_")}
    env["IMPORTSERVER_URL"] = server.url
    if token is not None:
        env["IMPORTSERVER_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
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
    assert "\r[" in run.stderr and "100.0%" in run.stderr, run.stderr  # the progress bar
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
