"""A server process frozen (SIGSTOP) in the middle of a chunk: PostgreSQL ends its transaction
once it has been idle IDLE_IN_TRANSACTION_SECONDS, which lets go of its board's and its job's
locks; another process writes to the board and takes the job over; the frozen one, resumed,
writes nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    Api,
    ServerProcess,
    shared_s3,
    start_server,
    stop_server,
)
from tests.importing import database_rows, start_job, upload, wait_for_job
from tests.reliability.test_crash import wait_for_progress
from tests.reliability.test_frozen_copy import assert_written_once

ROWS = 20_000  # a backfill long enough to be frozen in its middle
LEASE = "2"  # seconds: the frozen runner's job is taken over quickly
IDLE = "1"  # seconds a transaction may stay idle
WRITE_TIMEOUT = 15.0  # seconds: a write to the frozen process's board is let through sooner
IN_CHUNK = """SELECT count(*) FROM pg_stat_activity
WHERE state = 'idle in transaction' AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """An S3 endpoint that outlives server processes, and a data dir they share."""
    with shared_s3("frozen", JOB_LEASE_SECONDS=LEASE, IDLE_IN_TRANSACTION_SECONDS=IDLE) as env:
        yield tmp_path_factory.mktemp("frozen-data"), env


async def freeze_in_a_chunk(server: ServerProcess) -> None:
    """SIGSTOP the (only) server process while one of its transactions has written and waits
    for its next statement: frozen in the middle of a chunk, holding its locks."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        os.kill(server.process.pid, signal.SIGSTOP)
        await asyncio.sleep(0.05)  # a statement running as it froze ends, and waits
        if (await database_rows(server, IN_CHUNK))[0][0]:
            return
        os.kill(server.process.pid, signal.SIGCONT)
        await asyncio.sleep(0.03)
    raise AssertionError("the server was never caught in the middle of a chunk")


async def test_process_frozen_mid_chunk_lets_another_write_and_take_its_job_over(
    first: ServerProcess, shared: tuple[Path, dict[str, str]]
) -> None:
    data_dir, env = shared
    body = "name\n" + "".join(f"row {i}\n" for i in range(ROWS))
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        job = await start_job(Api(client), mutation="backfill_items")
        assert (await upload(job["upload_url"], body)).status_code == 200

    async def written() -> int:
        return len(await database_rows(first, "SELECT 1 FROM items WHERE name = 'row 300'"))

    await wait_for_progress(written, 1)
    await freeze_in_a_chunk(first)
    second = start_server(data_dir, extra_env=env)
    try:
        async with httpx.AsyncClient(base_url=second.url, timeout=WRITE_TIMEOUT) as client:
            api = Api(client)
            created = await api.gql(
                'mutation { create_item(board_id: 100, item_name: "by hand") { id } }'
            )
            assert created["create_item"]["id"]
            status = await wait_for_job(api, job["job_id"])
            assert status["status"] == "COMPLETED", status
            assert status["counts"]["created"] == ROWS, status
            os.kill(first.process.pid, signal.SIGCONT)
            # the resumed process finds its transaction ended, and its job another's
            async with httpx.AsyncClient(base_url=first.url, timeout=30) as resumed:
                healthy = await resumed.get("/healthz")
                assert healthy.status_code == 200
            await asyncio.sleep(1.0)
            again = await wait_for_job(api, job["job_id"])
            assert again["counts"] == status["counts"], again
    finally:
        stop_server(second)
    await assert_written_once(first, ROWS)
