"""A full disk during an import or an export: the server's own (ENOSPC or EDQUOT writing a
scratch file: the downloaded upload, a parsing worker's chunk file, the report, the export's
file) or the database's (SQLSTATE 53100). The job is retried like an outage and completes
with every row exactly once, or ends FAILED (INTERNAL_ERROR) with a message that says the
disk is full; no scratch file is left behind and the server keeps serving.

The server's disk is filled by the `scratch_<file>` faults; the database's by a trigger that
makes PostgreSQL itself answer 53100 (RAISE ... USING ERRCODE = 'disk_full')."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.blue import (
    REPORT,
    import_file,
    next_event,
    put_file,
    start_import,
    subscribe,
    wait_for_report,
    websocket,
)
from tests.conftest import Api, ServerProcess, start_server, stop_server
from tests.importing import download_report, postgres_socket, run_import
from tests.reliability.test_crash import all_names
from tests.test_blue_export import EXPORT, WORKSPACE, export, next_window, pipeline

LEASE = "1"  # seconds: a job left to its lease by a full disk is claimed again soon
MAX_ATTEMPTS = 5  # processing.MAX_ATTEMPTS: claims before a job ends FAILED
ROWS = 3_000  # several chunks
SCRATCH_PREFIXES = ("import-", "blue-import-", "blue-count-", "export-")


@pytest.fixture(scope="module")
def scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scratch")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, scratch_root: Path) -> Iterator[ServerProcess]:
    """The conftest's server (its `api` fixture resets it), with a short lease, two parsing
    workers (sharing a file's chunk files) and its own temporary folder, where the tests look
    for scratch files left behind."""
    env = {"JOB_LEASE_SECONDS": LEASE, "TMPDIR": str(scratch_root), "PARSE_WORKERS": "2"}
    started = start_server(tmp_path_factory.mktemp("disk-full-data"), extra_env=env)
    yield started
    stop_server(started)


async def fill(api: Api, file: str, error: str = "ENOSPC", count: int = 1) -> None:
    """The next `count` job attempts (or exports) find the disk full writing `file`."""
    fault = {"operation": f"scratch_{file}", "error": error, "count": count}
    response = await api.admin("POST", "/__admin/faults", fault)
    assert response.status_code == 200, response.text


def leftovers(root: Path) -> list[str]:
    """Scratch folders and files the server left in its temporary folder."""
    return sorted(p.name for p in root.iterdir() if p.name.startswith(SCRATCH_PREFIXES))


async def attempts(api: Api, job_id: str) -> int:
    record = (await api.admin("GET", f"/__admin/jobs/{job_id}")).json()
    return int(record["attempt"])


def rows_csv(rows: int, prefix: str = "row") -> str:
    return "name,numeric\n" + "".join(f"{prefix} {i},{i}\n" for i in range(rows))


async def assert_healthy(api: Api) -> None:
    """The server still serves, and its parsing worker still imports."""
    assert (await api.client.get("/healthz")).status_code == 200
    status = await run_import(api, "name\nafter A\nafter B\n")
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 2, status


@contextlib.asynccontextmanager
async def database_disk_full(server: ServerProcess, times: int | None) -> AsyncIterator[None]:
    """PostgreSQL answers 53100 (disk full) to the next `times` statements that insert items
    (None: to every one). A sequence counts them: it is not rolled back with the statement."""
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    limit = "NULL" if times is None else str(times)
    try:
        await conn.execute(
            f"""
            DROP SEQUENCE IF EXISTS test_disk_full_seq;
            CREATE SEQUENCE test_disk_full_seq;
            CREATE OR REPLACE FUNCTION test_disk_full() RETURNS trigger AS $$
            BEGIN
                IF {limit} IS NULL OR nextval('test_disk_full_seq') <= {limit} THEN
                    RAISE EXCEPTION 'could not extend file: No space left on device'
                        USING ERRCODE = 'disk_full';
                END IF;
                RETURN NULL;
            END $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS test_disk_full ON items;
            CREATE TRIGGER test_disk_full BEFORE INSERT ON items
                FOR EACH STATEMENT EXECUTE FUNCTION test_disk_full();
            """
        )
        yield
    finally:
        await conn.execute(
            "DROP TRIGGER IF EXISTS test_disk_full ON items; "
            "DROP FUNCTION IF EXISTS test_disk_full(); DROP SEQUENCE IF EXISTS test_disk_full_seq;"
        )
        await conn.close()


async def assert_each_row_once(api: Api, status: dict[str, Any], rows: int) -> None:
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == rows and status["counts"]["failed"] == 0, status
    names = [n for n in await all_names(api) if n.startswith("row ")]
    assert sorted(names) == sorted(f"row {i}" for i in range(rows)), "a row lost or doubled"


async def test_a_chunk_file_the_full_disk_refuses_is_retried_and_every_row_imported_once(
    api: Api, scratch_root: Path
) -> None:
    await fill(api, "chunk")
    status = await run_import(api, rows_csv(ROWS))
    await assert_each_row_once(api, status, ROWS)
    assert await attempts(api, status["job_id"]) == 2
    assert leftovers(scratch_root) == []
    await assert_healthy(api)


async def test_a_download_the_disk_keeps_refusing_ends_failed_after_the_last_attempt(
    api: Api, scratch_root: Path
) -> None:
    await fill(api, "upload", "EDQUOT", count=MAX_ATTEMPTS)
    status = await run_import(api, rows_csv(10))
    assert status["status"] == "FAILED", status
    assert status["failure_reason"] == "INTERNAL_ERROR", status
    message = status["failure_message"]
    assert "ran out of disk space" in message and "Disk quota exceeded" in message, message
    assert f"tried {MAX_ATTEMPTS} times" in message, message
    assert status["counts"]["created"] == 0, status
    assert await attempts(api, status["job_id"]) == MAX_ATTEMPTS
    assert [n for n in await all_names(api) if n.startswith("row ")] == []
    assert leftovers(scratch_root) == []
    await assert_healthy(api)


async def test_a_report_the_full_disk_refuses_is_written_next_attempt_counting_rows_once(
    api: Api, scratch_root: Path
) -> None:
    await fill(api, "report")
    body = rows_csv(ROWS) + "row bad,not a number\n"
    status = await run_import(api, body)
    assert status["status"] == "COMPLETED", status
    assert status["counts"] == {
        "submitted": ROWS + 1, "invalid": 1, "skipped": 0, "created": ROWS, "updated": 0,
        "failed": 0,
    }, status  # fmt: skip
    [reported] = await download_report(status)
    assert reported["name"] == "row bad", reported
    assert await attempts(api, status["job_id"]) == 2
    assert leftovers(scratch_root) == []


async def test_database_disk_full_in_a_chunk_is_retried_not_reported_as_failed_rows(
    api: Api, server: ServerProcess, scratch_root: Path
) -> None:
    # before, the chunk was taken for a refusal of its rows: written again one by one, and
    # the first row, refused too, reported failed
    async with database_disk_full(server, times=3):
        status = await run_import(api, rows_csv(ROWS))
    await assert_each_row_once(api, status, ROWS)
    assert await attempts(api, status["job_id"]) == 4
    assert leftovers(scratch_root) == []


async def test_database_disk_full_that_lasts_ends_the_job_failed_with_a_clear_message(
    api: Api, server: ServerProcess, scratch_root: Path
) -> None:
    async with database_disk_full(server, times=None):
        status = await run_import(api, rows_csv(ROWS))
    assert status["status"] == "FAILED", status
    assert status["failure_reason"] == "INTERNAL_ERROR", status
    message = status["failure_message"]
    assert "database ran out of resources" in message and "53100" in message, message
    assert status["counts"]["created"] == 0 and status["counts"]["failed"] == 0, status
    assert await attempts(api, status["job_id"]) == MAX_ATTEMPTS
    assert leftovers(scratch_root) == []
    await assert_healthy(api)


async def test_a_blue_import_whose_chunk_file_the_disk_refuses_completes_each_record_once(
    api: Api, scratch_root: Path
) -> None:
    await fill(api, "chunk")
    body = "Title\n" + "".join(f"rec {i}\n" for i in range(ROWS))
    report = await import_file(api, "leads", body, ["Title"])
    assert report["status"] == "COMPLETE", report
    assert report["imported"] == ROWS, report
    names = [n for n in await all_names(api) if n.startswith("rec ")]
    assert sorted(names) == sorted(f"rec {i}" for i in range(ROWS))
    assert leftovers(scratch_root) == []


async def test_a_blue_import_the_database_disk_keeps_refusing_ends_in_error(
    api: Api, server: ServerProcess, scratch_root: Path
) -> None:
    body = "Title\n" + "".join(f"rec {i}\n" for i in range(10))
    async with database_disk_full(server, times=None):
        report = await import_file(api, "leads", body, ["Title"])
    assert report["status"] == "ERROR", report
    assert "53100" in report["error"], report
    assert report["imported"] == 0, report
    assert (await api.gql(REPORT, {"p": "leads"}))["todoImportReport"]["status"] == "ERROR"
    assert leftovers(scratch_root) == []


async def test_an_export_the_full_disk_refuses_ends_in_error_and_leaves_no_file(
    api: Api, server: ServerProcess, scratch_root: Path
) -> None:
    await pipeline(api)
    await fill(api, "export")
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", WORKSPACE, "10")
        assert (await api.gql(EXPORT, {"i": {"projectId": WORKSPACE}}))["exportTodos"] is True
        event = await next_event(ws)
        while event.get("status") not in ("COMPLETE", "ERROR"):
            event = await next_event(ws)
    assert event["status"] == "ERROR", event
    assert "ran out of disk space" in event["error"], event
    assert leftovers(scratch_root) == []
    await next_window(api)
    assert len(await export(api)) == 3  # the next export, with space, succeeds


async def test_import_todos_whose_count_the_full_disk_refuses_is_a_503_error_and_starts_nothing(
    api: Api, scratch_root: Path
) -> None:
    # importTodos copies the file to count its records (an account below enterprise: pro),
    # before any job exists
    await api.load_fixture({"accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "pro"}]})
    await fill(api, "upload")
    body = "Title\nrec A\nrec B\n"
    key = await put_file(api, "leads", body)
    response = await start_import(api, "leads", key, ["Title"])
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR", error
    assert error["extensions"]["status_code"] == 503, error
    assert "ran out of disk space (No space left on device)" in error["message"], error
    assert (await api.gql(REPORT, {"p": "leads"}))["todoImportReport"] is None
    assert leftovers(scratch_root) == []
    assert (await start_import(api, "leads", key, ["Title"])).json() == {
        "data": {"importTodos": True}
    }
    assert (await wait_for_report(api, "leads"))["imported"] == 2
