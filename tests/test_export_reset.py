"""An admin reset while a Blue export reads: the reset neither deadlocks with the export nor
fails it; the export, part of the data the reset deletes, stops without a word."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from httpx_ws import AsyncWebSocketSession

from tests.blue import next_event, subscribe, websocket
from tests.conftest import Api, ServerProcess
from tests.importing import postgres_socket
from tests.test_blue_export import EXPORT, WORKSPACE, export, outbox, pipeline

HOLD_MS = 3000  # the injected pause of the export after its first batch, its snapshot open
QUIET = 2.0  # seconds a test listens for what should not come


async def hold_next_export(api: Api) -> None:
    fault = {"operation": "export_batch", "error": "SLOW", "delay_ms": HOLD_MS}
    response = await api.admin("POST", "/__admin/faults", fault)
    assert response.status_code == 200, response.text


async def events_within(ws: AsyncWebSocketSession, seconds: float) -> list[dict[str, Any]]:
    """The subscription's events in the next `seconds`."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await ws.receive_json(timeout=left)
        except TimeoutError:
            break
        if message["type"] not in ("ka", "ping", "pong"):
            found.append(message)
    return found


async def test_a_reset_while_an_export_reads_waits_at_most_a_batch_and_drops_it(
    api: Api, server: ServerProcess
) -> None:
    await pipeline(api)
    await hold_next_export(api)
    log_start = len(server.log())
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", WORKSPACE, "10")
        data = await api.gql(EXPORT, {"i": {"projectId": WORKSPACE}})
        assert data == {"exportTodos": True}
        first = await next_event(ws)
        assert (first["status"], first["progress"]) == ("IN_PROGRESS", 0.0), first
        await asyncio.sleep(1.0)  # the export has read its first batch and holds there
        started = time.monotonic()
        response = await api.admin("POST", "/__admin/reset")
        took = time.monotonic() - started
        assert response.status_code == 200, response.text
        # it waited for the export's pause to end, then the export let go at once
        assert took < HOLD_MS / 1000 + 2.0, took
        # the reset deleted the export with the rest of the data: no further event, no mail
        # (its next event went out amid the reset, and its end failed on the deleted board:
        # "export failed", "could not publish export failure")
        assert await events_within(ws, QUIET) == []
    assert await outbox(api) == []
    log = server.log()[log_start:]
    assert "export dropped: the data was reset" in log, log
    assert "export failed" not in log and "Traceback" not in log, log
    # nothing was left locked: the next export runs to its end
    await pipeline(api)
    assert [row["Title"] for row in await export(api)] == ["Alpha", "'@x", "Beta"]


async def test_a_reset_that_meets_an_export_taking_its_locks_does_not_deadlock_with_it(
    api: Api, server: ServerProcess
) -> None:
    # another session holds item_assignees, so the export's read stops while it takes its
    # tables' locks (items, groups, item_tags, tags, then item_assignees, users); the reset
    # then takes users and waits for groups. Once let go, the export wanted users: PostgreSQL
    # found the deadlock and ended one of them ("export failed", or the reset retried)
    await pipeline(api)
    host, port = postgres_socket(server)
    blocker = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    log_start = len(server.log())
    try:
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE item_assignees IN ACCESS EXCLUSIVE MODE")
            data = await api.gql(EXPORT, {"i": {"projectId": WORKSPACE}})
            assert data == {"exportTodos": True}
            await wait_for_waiting_lock(blocker, "item_assignees")
            reset = asyncio.create_task(api.admin("POST", "/__admin/reset"))
            await asyncio.sleep(1.0)  # the reset waits for the export
        response = await asyncio.wait_for(reset, timeout=30)
        assert response.status_code == 200, response.text
    finally:
        await blocker.close()
    await asyncio.sleep(QUIET)  # the export's end, if it were to come
    assert await outbox(api) == []
    log = server.log()[log_start:]
    assert "export dropped: the data was reset" in log, log
    assert "deadlock" not in log and "export failed" not in log, log


async def wait_for_waiting_lock(conn: asyncpg.Connection, table: str) -> None:
    """Wait until some session waits for a lock on `table`."""
    deadline = time.monotonic() + 30
    while not await conn.fetchval(
        "SELECT EXISTS (SELECT FROM pg_locks WHERE relation = $1::regclass AND NOT granted)",
        table,
    ):
        assert time.monotonic() < deadline, f"no session came to wait for {table}"
        await asyncio.sleep(0.05)
