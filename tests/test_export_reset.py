"""An admin reset while a Blue export reads: the reset neither deadlocks with the export nor
fails it; the export, part of the data the reset deletes, stops without a word. An export that
uploads its file as the reset runs leaves no file in the bucket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import boto3
import httpx
import pytest
from httpx_ws import AsyncWebSocketSession

from server import storage
from server.settings import DEFAULT_REGION, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY
from tests.blue import next_event, subscribe, websocket
from tests.conftest import Api, ServerProcess, shared_s3, start_server, stop_server
from tests.importing import postgres_socket
from tests.test_blue_export import EXPORT, WORKSPACE, export, outbox, pipeline

HOLD_MS = 3000  # the injected pause of the export after its first batch, its snapshot open
QUIET = 2.0  # seconds a test listens for what should not come
BUCKET = "export-reset"
LOG_TIMEOUT = 30.0  # seconds a test waits for a line of the server's log


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


@pytest.fixture(scope="module")
def bucket_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any]]:
    """A server on an S3 endpoint the test can list: (the server, an S3 client)."""
    with shared_s3(BUCKET) as env:
        s3 = boto3.client(
            "s3",
            endpoint_url=env["S3_ENDPOINT_URL"],
            aws_access_key_id=EMBEDDED_ACCESS_KEY,
            aws_secret_access_key=EMBEDDED_SECRET_KEY,
            region_name=DEFAULT_REGION,
            config=storage.CLIENT_CONFIG,
        )
        started = start_server(tmp_path_factory.mktemp("export-reset-data"), extra_env=env)
        try:
            yield started, s3
        finally:
            stop_server(started)


def bucket_keys(s3: Any) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return sorted(entry["Key"] for page in pages for entry in page.get("Contents", []))


async def wait_for_log(server: ServerProcess, start: int, line: str) -> str:
    deadline = time.monotonic() + LOG_TIMEOUT
    while line not in (log := server.log()[start:]):
        assert time.monotonic() < deadline, f"{line!r} not logged:\n{log}"
        await asyncio.sleep(0.1)
    return log


async def test_an_export_uploading_its_file_during_a_reset_leaves_no_file_in_the_bucket(
    bucket_server: tuple[ServerProcess, Any],
) -> None:
    server, s3 = bucket_server
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        assert (await api.admin("POST", "/__admin/reset")).status_code == 200
        await pipeline(api)
        # the export pauses once its file is written and its snapshot closed, just before
        # the upload: the reset runs whole meanwhile and the file lands after it
        fault = {"operation": "export_upload", "error": "SLOW", "delay_ms": HOLD_MS}
        assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
        log_start = len(server.log())
        async with websocket(server.url, "graphql-transport-ws") as ws:
            await subscribe(ws, "graphql-transport-ws", WORKSPACE, "10")
            assert await api.gql(EXPORT, {"i": {"projectId": WORKSPACE}}) == {"exportTodos": True}
            while (event := await next_event(ws))["progress"] < 99.0:  # every record written
                assert event["status"] == "IN_PROGRESS", event
            started = time.monotonic()
            response = await api.admin("POST", "/__admin/reset")
            assert response.status_code == 200, response.text
            # nothing held the reset: the export was not reading
            assert time.monotonic() - started < HOLD_MS / 1000, time.monotonic() - started
            log = await wait_for_log(server, log_start, "export dropped: the data was reset")
            assert await events_within(ws, QUIET) == []
        assert "export failed" not in log and "Traceback" not in log, log
        assert bucket_keys(s3) == []
        assert await outbox(api) == []
        # the next export is delivered, its file in the bucket
        await pipeline(api)
        assert [row["Title"] for row in await export(api)] == ["Alpha", "'@x", "Beta"]
        assert [key.split("/")[0] for key in bucket_keys(s3)] == ["exports"]
