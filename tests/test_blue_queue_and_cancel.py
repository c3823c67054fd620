"""A Blue import waiting for its turn, and a cancel racing its last chunk.

An import queued behind another job of its workspace tells its subscribers at once that it
is accepted (IN_PROGRESS at 0, the only status Blue documents for an import not ended), and
a subscriber that connects while it waits gets that state. `cancelTodoImport` answers true
only when the import will end CANCELLED: one that arrives while the last chunk is written
finds the import ended (false, COMPLETE with every record).

The races are made deterministic by holding the workspace's row lock from the test (each
chunk takes it after the job's row lock), so that a chunk waits with its job's row locked
while the cancel is sent, or by a slowed job ahead of the import (an admin SLOW fault).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from tests.blue import next_event, put_file, start_import, subscribe, wait_for_report, websocket
from tests.conftest import Api, ServerProcess
from tests.importing import postgres_socket, refusing_name, start_job, upload

CANCEL = 'mutation { cancelTodoImport(projectId: "leads") }'
WAIT_TIMEOUT = 30.0  # seconds a test waits for the server to reach a lock
QUEUED_EVENT_TIMEOUT = 3.0  # seconds: the held job ahead of the import runs longer


def records(n: int) -> str:
    return "Title\n" + "".join(f"r{i}\n" for i in range(n))


def event_of(status: str, progress: float) -> dict[str, Any]:
    return {
        "type": "IMPORT", "userId": "10", "username": "Ada", "projectId": "leads",
        "projectName": "Leads", "status": status, "progress": progress,
    }  # fmt: skip


async def connect(server: ServerProcess) -> asyncpg.Connection:
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    # the lock is held while the test waits: never ended for idling
    await conn.execute("SET idle_in_transaction_session_timeout = 0")
    return conn


async def wait_for_waiter(server: ServerProcess, condition: str, *args: object) -> None:
    """Until a session of the server waits for a lock as `condition` (on pg_stat_activity)
    says."""
    conn = await connect(server)
    try:
        deadline = time.monotonic() + WAIT_TIMEOUT
        query = (
            f"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND {condition}"
        )
        while not await conn.fetchval(query, *args):
            assert time.monotonic() < deadline, f"no session waits where {condition}"
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def workspace_held(server: ServerProcess) -> AsyncIterator[int]:
    """Hold the workspace's row lock until the block ends: an import's first chunk waits for
    it, its job's row locked. Yields the holding session's pid."""
    conn = await connect(server)
    try:
        async with conn.transaction():
            await conn.execute("SELECT id FROM boards WHERE id = 100 FOR NO KEY UPDATE")
            yield int(await conn.fetchval("SELECT pg_backend_pid()"))
    finally:
        await conn.close()


async def import_cancelled_in_first_chunk(
    api: Api, server: ServerProcess, key: str
) -> dict[str, Any]:
    """Start the import, and cancel while its first chunk waits with its job's row locked:
    the cancel waits for that chunk's commit. The cancel's answer."""
    async with workspace_held(server) as holder:
        assert (await start_import(api, "leads", key, ["Title"])).json() == {
            "data": {"importTodos": True}
        }
        await wait_for_waiter(server, "$1 = ANY(pg_blocking_pids(pid))", holder)
        cancel = asyncio.ensure_future(api.gql(CANCEL))
        await wait_for_waiter(server, "query LIKE '%SET cancel_requested = true%'")
    return dict(await cancel)


async def test_a_cancel_during_the_last_chunk_answers_false_and_the_import_completes(
    api: Api, server: ServerProcess
) -> None:
    key = await put_file(api, "leads", records(10))  # one chunk
    answer = await import_cancelled_in_first_chunk(api, server, key)
    assert answer == {"cancelTodoImport": False}
    report = await wait_for_report(api, "leads")
    assert (report["status"], report["imported"]) == ("COMPLETE", 10), report
    assert await api.gql(CANCEL) == {"cancelTodoImport": False}  # ended: nothing to cancel
    assert (await wait_for_report(api, "leads"))["status"] == "COMPLETE"


async def test_a_cancel_before_the_first_chunk_answers_true_and_the_import_ends_cancelled(
    api: Api, server: ServerProcess
) -> None:
    held = await job_ahead(api, delay_ms=5000)
    key = await put_file(api, "leads", records(700))
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "10")
        assert (await start_import(api, "leads", key, ["Title"])).json() == {
            "data": {"importTodos": True}
        }
        # queued behind the slowed job: recorded before any chunk
        assert await api.gql(CANCEL) == {"cancelTodoImport": True}
        ahead = (await api.admin("GET", f"/__admin/jobs/{held}")).json()
        assert ahead["status"] == "PROCESSING", ahead
        seen = [await next_event(ws)]
        while seen[-1]["status"] == "IN_PROGRESS":
            seen.append(await next_event(ws))
    assert seen == [event_of("IN_PROGRESS", 0.0), event_of("CANCELLED", 0.0)]
    report = await wait_for_report(api, "leads")
    assert (report["status"], report["imported"]) == ("CANCELLED", 0), report
    assert await api.gql(CANCEL) == {"cancelTodoImport": False}  # ended: nothing to cancel


async def test_a_cancel_recorded_as_a_failing_chunk_rolls_back_ends_the_import_cancelled(
    api: Api, server: ServerProcess
) -> None:
    # the first chunk fails: its rollback lets the waiting cancel in before the import ends
    key = await put_file(api, "leads", records(700))
    async with refusing_name(server, "r3"):
        answer = await import_cancelled_in_first_chunk(api, server, key)
        report = await wait_for_report(api, "leads")
    # the cancel, already waiting for the job's row, takes it before the runner ends the job
    assert (answer, report["status"]) == ({"cancelTodoImport": True}, "CANCELLED"), report
    assert (report["imported"], report["error"]) == (0, None), report


async def test_a_cancel_when_no_import_runs_answers_false(api: Api) -> None:
    assert await api.gql(CANCEL) == {"cancelTodoImport": False}
    key = await put_file(api, "leads", records(3))
    assert (await start_import(api, "leads", key, ["Title"])).json() == {
        "data": {"importTodos": True}
    }
    assert (await wait_for_report(api, "leads"))["status"] == "COMPLETE"
    alias = await api.gql('mutation { cancelRecordImport(projectId: "leads") }')
    assert alias == {"cancelRecordImport": False}


async def test_an_import_queued_behind_another_job_tells_its_subscribers_at_once(
    api: Api, server: ServerProcess
) -> None:
    held = await job_ahead(api, delay_ms=8000)
    key = await put_file(api, "leads", records(3))
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "10")
        assert (await start_import(api, "leads", key, ["Title"])).json() == {
            "data": {"importTodos": True}
        }
        queued = await asyncio.wait_for(next_event(ws), QUEUED_EVENT_TIMEOUT)
        assert queued == event_of("IN_PROGRESS", 0.0)
        # one who subscribes while it waits is told where it stands
        async with websocket(server.url, "graphql-transport-ws") as late:
            await subscribe(late, "graphql-transport-ws", "leads", "10")
            replayed = await asyncio.wait_for(next_event(late), QUEUED_EVENT_TIMEOUT)
        assert replayed == event_of("IN_PROGRESS", 0.0)
        ahead = (await api.admin("GET", f"/__admin/jobs/{held}")).json()
        assert ahead["status"] == "PROCESSING", ahead  # still queued behind it
        rest = [await next_event(ws)]
        while rest[-1]["status"] == "IN_PROGRESS":
            rest.append(await next_event(ws))
    # once started, no second 0: the records, then the end
    assert rest == [event_of("IN_PROGRESS", 100.0), event_of("COMPLETE", 100.0)]


async def job_ahead(api: Api, delay_ms: int) -> str:
    """A monday-style import of the workspace, running and slowed for `delay_ms` (an admin
    fault): the server runs one job of a workspace at a time, so a Blue import started now
    waits behind it. Its job id."""
    fault = {"operation": "upload", "error": "SLOW", "delay_ms": delay_ms}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    held = await start_job(api)
    assert (await upload(held["upload_url"], "name\nheld\n")).status_code == 200
    deadline = time.monotonic() + WAIT_TIMEOUT
    while (await api.admin("GET", f"/__admin/jobs/{held['job_id']}")).json()["attempt"] < 1:
        assert time.monotonic() < deadline, f"job {held['job_id']} never claimed"
        await asyncio.sleep(0.1)
    return held["job_id"]
