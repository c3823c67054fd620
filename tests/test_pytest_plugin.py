"""The pytest plugin (`server.testing`) used from a throwaway test project, through pytester:
each run is a real `pytest` subprocess that loads the plugin from its installed entry point."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from server import testing

pytest_plugins = ["pytester"]

STAND_IN: dict[str, Any] = {
    "accounts": [{"id": 1, "name": "Shop", "slug": "shop", "plan": "enterprise"}],
    "users": [
        {"id": 7, "account_id": 1, "name": "Tess Tester", "email": "tess@shop.example.com",
         "token": "tok-tess", "is_admin": True},
    ],
    "boards": [{
        "id": 42, "account_id": 1, "name": "Orders", "slug": "orders",
        "members": [{"user_id": 7, "role": "OWNER"}],
        "groups": [{"id": "inbox", "title": "Inbox"}],
        "columns": [{"id": "status", "title": "Status", "type": "status",
                     "settings": {"labels": ["New", "Shipped"]}}],
        "items": [{"id": 4200, "name": "Seed order", "group_id": "inbox",
                   "values": {"status": "New"}}],
    }],
}  # fmt: skip

# The throwaway project's tests, written as a user of the plugin would write them.
PROJECT_TESTS = """
import pytest

from server.testing import GraphQLError, ImportServer, ImportServerClient

ITEMS = "query($b: [ID!]) { boards(ids: $b) { items(limit: 100) { id name } } }"


def names(client: ImportServerClient) -> list[str]:
    data = client.execute(ITEMS, {"b": ["42"]}, token="tok-tess")
    return sorted(item["name"] for item in data["boards"][0]["items"])


def test_import_creates_the_valid_rows(importserver_client: ImportServerClient) -> None:
    status = importserver_client.import_csv(
        42, "inbox", "name,status\\nFirst,Shipped\\nBroken,Lost\\n", "tok-tess",
        report="ALL_ROWS",
    )
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 1 and status["counts"]["invalid"] == 1
    rows = {row["name"]: row for row in importserver_client.report_rows(status)}
    assert rows["First"]["__status"] == "created" and rows["Broken"]["__status"] == "invalid"
    assert names(importserver_client) == ["First", "Seed order"]


def test_every_test_starts_from_the_fixture(importserver_client: ImportServerClient) -> None:
    assert names(importserver_client) == ["Seed order"]


def test_dry_run_and_upsert_options(importserver_client: ImportServerClient) -> None:
    importserver_client.token = "tok-tess"
    status = importserver_client.import_csv(
        42, "inbox", "name,status\\nSeed order,Shipped\\n",
        on_match={"behaviour": "UPSERT", "match_column_id": "name"}, dry_run=True,
    )
    assert status["counts"]["updated"] == 1, status
    assert importserver_client.report_rows(status)[0]["__item_id"] == "4200"
    assert names(importserver_client) == ["Seed order"]


def test_admin_helpers(importserver: ImportServer, importserver_client: ImportServerClient) -> None:
    assert importserver_client.url == importserver.url
    client = importserver_client
    client.admin.load_fixture({"accounts": [{"id": 1, "name": "Shop", "slug": "shop"}],
                               "users": [{"id": 8, "account_id": 1, "name": "Al", "email": "al@shop.example.com", "token": "tok-al"}]})
    assert client.execute("{ me { id } }", token="tok-al") == {"me": {"id": "8"}}
    assert client.admin.advance_clock(3600)["offset_seconds"] == 3600
    assert client.admin.reset_clock()["offset_seconds"] == 0
    assert client.admin.outbox() == []
    answer = client.graphql("{ me { id } }", token="no-such-token")
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_injected_fault(importserver_client: ImportServerClient) -> None:
    importserver_client.admin.faults("ingest_items", "RATE_LIMIT_EXCEEDED", 1, retry_after_ms=1500)
    with pytest.raises(GraphQLError) as raised:
        importserver_client.import_csv(42, "inbox", "name\\nx\\n", "tok-tess")
    assert raised.value.code == "RATE_LIMIT_EXCEEDED"
    assert raised.value.extensions["retryAfterMs"] == 1500
    assert importserver_client.import_csv(42, "inbox", "name\\nx\\n", "tok-tess")["status"] == "COMPLETED"
"""


def write_stand_in(pytester: pytest.Pytester, name: str = "stand-in.json") -> Path:
    path = pytester.path / "fixtures" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(STAND_IN))
    return path


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a subprocess, as the project would run it; its temp dir kept in the project."""
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--basetemp", str(pytester.path / "tmp"), *args, timeout=600
    )


def test_project_imports_through_the_plugin_with_its_ini_fixture(
    pytester: pytest.Pytester,
) -> None:
    write_stand_in(pytester)
    pytester.makeini(
        """
        [pytest]
        importserver_fixture = fixtures/stand-in.json
        filterwarnings = error
        """
    )
    pytester.makepyfile(test_orders=PROJECT_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=5)


def test_fixture_file_from_the_command_line_option(pytester: pytest.Pytester) -> None:
    write_stand_in(pytester, "other.json")
    pytester.makepyfile(
        test_option="""
        def test_board_from_the_option(importserver_client):
            data = importserver_client.execute("{ me { name } }", token="tok-tess")
            assert data == {"me": {"name": "Tess Tester"}}
        """
    )
    run(pytester, "--importserver-fixture", "fixtures/other.json").assert_outcomes(passed=1)


def test_fixture_path_fixture_can_be_overridden_in_code(pytester: pytest.Pytester) -> None:
    write_stand_in(pytester, "chosen.json")
    pytester.makeconftest(
        """
        import pathlib
        import pytest

        @pytest.fixture(scope="session")
        def importserver_fixture_path():
            return pathlib.Path(__file__).parent / "fixtures" / "chosen.json"
        """
    )
    pytester.makepyfile(
        test_override="""
        def test_user_from_the_chosen_fixture(importserver_client):
            assert importserver_client.execute("{ me { id } }", token="tok-tess") == {"me": {"id": "7"}}
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_fixture_path_fixture_may_return_a_string(pytester: pytest.Pytester) -> None:
    write_stand_in(pytester, "chosen.json")
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def importserver_fixture_path():
            return "fixtures/chosen.json"
        """
    )
    pytester.makepyfile(
        test_override="""
        def test_user_from_the_chosen_fixture(importserver_client):
            assert importserver_client.execute("{ me { id } }", token="tok-tess") == {"me": {"id": "7"}}
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_plugin_starts_nothing_unless_a_test_asks_for_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        def test_plain():
            assert True
        """
    )
    result = run(pytester, "--importserver-fixture", "fixtures/missing.json")
    result.assert_outcomes(passed=1)
    assert not list((pytester.path / "tmp").glob("importserver*"))


def test_missing_fixture_file_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_missing="""
        def test_needs_the_server(importserver):
            pass
        """
    )
    result = run(pytester, "--importserver-fixture", "fixtures/missing.json")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*importserver fixture file not found*missing.json*"])


def test_plugin_is_registered_as_an_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fixtures="""
        def test_listed():
            pass
        """
    )
    result = run(pytester, "--fixtures")
    result.stdout.fnmatch_lines(["importserver *", "importserver_client*"])
    help_text = run(pytester, "--help")
    help_text.stdout.fnmatch_lines(["*--importserver-fixture=PATH*", "*importserver_fixture*"])


def test_plugin_loads_by_name_when_autoload_is_off(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_fixtures="def test_listed():\n    pass\n")
    run(pytester, "--fixtures").stdout.no_fnmatch_line("importserver_client*")
    loaded = run(pytester, "-p", "importserver", "--fixtures")
    loaded.stdout.fnmatch_lines(["importserver_client*"])


def processes_using(folder: Path) -> list[str]:
    """The command lines of live processes that name `folder` (a server, its PostgreSQL)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(folder) in cmdline:
            found.append(cmdline)
    return found


def test_a_server_killed_by_a_test_is_reported_and_leaves_no_postgres(
    pytester: pytest.Pytester,
) -> None:
    write_stand_in(pytester)
    pytester.makeini("[pytest]\nimportserver_fixture = fixtures/stand-in.json\n")
    pytester.makepyfile(
        test_crash="""
        import pathlib

        from server.testing import ClientError, ImportServer, ImportServerClient

        def test_a_kills_the_server(
            importserver: ImportServer, importserver_client: ImportServerClient
        ) -> None:
            pathlib.Path("data_dir.txt").write_text(str(importserver.data_dir))
            importserver_client.admin.faults("job_end", "CRASH")
            try:
                importserver_client.import_csv(42, "inbox", "name\\nx\\n", "tok-tess", timeout=60)
            except ClientError:
                pass  # the server died while it was polled
            assert importserver.process.wait(60) == -9

        def test_b_after_it(importserver_client: ImportServerClient) -> None:
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*importserver exited with status -9 during the session*"])
    data_dir = Path((pytester.path / "data_dir.txt").read_text())
    assert processes_using(data_dir) == []  # its PostgreSQL ran on, its folder deleted


def test_ctrl_c_while_the_server_starts_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[testing.ImportServer] = []

    def interrupted(server: testing.ImportServer, timeout: float) -> bool:
        started.append(server)
        deadline = time.monotonic() + 60
        while not (server.data_dir / "pg" / "postmaster.pid").exists():  # PostgreSQL is up
            assert time.monotonic() < deadline and server.process.poll() is None, server.log()
            time.sleep(0.1)
        raise KeyboardInterrupt

    monkeypatch.setattr(testing, "_wait_healthy", interrupted)
    (tmp_path / "data").mkdir()
    with pytest.raises(KeyboardInterrupt):
        testing.start_server(tmp_path / "data")
    assert started and started[0].process.poll() is not None
    assert processes_using(tmp_path / "data") == []


@pytest.mark.parametrize(
    ("content", "fault"),
    [("{bad", "cannot read*"), ('{"accounts": [{"id": "x"}]}', "accounts[[]0[]].id: *")],
)
def test_a_fixture_file_the_server_would_refuse_is_reported_in_one_line(
    pytester: pytest.Pytester, content: str, fault: str
) -> None:
    (pytester.path / "broken.json").write_text(content)
    pytester.makepyfile(test_broken="def test_needs_the_server(importserver):\n    pass\n")
    result = run(pytester, "--importserver-fixture", "broken.json")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*importserver fixture file *broken.json: invalid fixture: {fault}"]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
