"""A server process frozen (SIGSTOP) while it sends a chunk's COPY data: PostgreSQL applies no
timeout to a COPY waiting for its data, so another process's watchdog ends the chunk's
transaction once its job's lease has run out; that lets go of the board's and the job's locks,
another process writes to the board and takes the job over, and the frozen one, resumed,
writes nothing twice. A live process whose COPY stalls as long loses that chunk only: it is
rolled back, and the job resumes and writes every row once.

The process is caught inside its COPY by an injected fault (operation "copy", SLOW): the
job's first COPY of items pauses once begun, before its data."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api, ServerProcess, shared_s3, start_server, stop_server
from tests.importing import database_rows, start_job, upload, wait_for_job

ROWS = 3_000  # a backfill of several chunks
LEASE = "2"  # seconds: the frozen runner's job is taken over quickly
IDLE = "1"  # seconds a transaction may stay idle, or a COPY wait for its data
PAUSE_MS = 8_000  # the injected pause inside the first COPY, well over LEASE + IDLE
WRITE_TIMEOUT = 15.0  # seconds: without the watchdog the write waits for the frozen process
# a backend of the server inside COPY FROM STDIN, waiting for its client's data
IN_COPY = """SELECT count(*) FROM pg_stat_activity
WHERE state = 'active' AND wait_event = 'ClientRead' AND query LIKE 'COPY %'
  AND pid <> pg_backend_pid()"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """An S3 endpoint that outlives server processes, and a data dir they share."""
    with shared_s3("frozen-copy", JOB_LEASE_SECONDS=LEASE, IDLE_IN_TRANSACTION_SECONDS=IDLE) as env:
        yield tmp_path_factory.mktemp("frozen-copy-data"), env


@pytest.fixture
def no_fixture(tmp_path: Path) -> Path:
    """A fixture that loads nothing: a second process starting with the demo fixture would
    wait, as it loads board 100, for the board's lock the frozen process holds."""
    path = tmp_path / "empty.json"
    path.write_text('{"accounts": []}')
    return path


async def start_paused_backfill(server: ServerProcess) -> str:
    """Queue a pause inside the next job's first COPY, start a backfill of ROWS rows on board
    100 and upload its file; the job's id."""
    body = "name\n" + "".join(f"row {i}\n" for i in range(ROWS))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        fault = {"operation": "copy", "error": "SLOW", "delay_ms": PAUSE_MS}
        assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
        job = await start_job(api, mutation="backfill_items")
        assert (await upload(job["upload_url"], body)).status_code == 200
    return str(job["job_id"])


async def wait_in_copy(server: ServerProcess) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (await database_rows(server, IN_COPY))[0][0]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the server never began the paused COPY")


async def assert_written_once(server: ServerProcess, rows: int = ROWS) -> None:
    """Each of the backfill's `rows` rows ('row 0', 'row 1'...) is one item of board 100."""
    names = await database_rows(
        server,
        "SELECT name, count(*) AS n FROM items WHERE board_id = 100 AND name LIKE 'row %' "
        "GROUP BY name HAVING count(*) > 1",
    )
    assert names == []
    total = await database_rows(
        server, "SELECT count(*) FROM items WHERE board_id = 100 AND name LIKE 'row %'"
    )
    assert total[0][0] == rows


async def test_process_frozen_in_a_copy_lets_another_write_and_take_its_job_over(
    first: ServerProcess, shared: tuple[Path, dict[str, str]], no_fixture: Path
) -> None:
    data_dir, env = shared
    job_id = await start_paused_backfill(first)
    await wait_in_copy(first)
    paused_until = time.monotonic() + PAUSE_MS / 1000
    os.kill(first.process.pid, signal.SIGSTOP)
    # the frozen process's COPY holds board 100's row lock
    second = start_server(data_dir, extra_env=env, fixture=no_fixture)
    try:
        async with httpx.AsyncClient(base_url=second.url, timeout=WRITE_TIMEOUT) as client:
            api = Api(client)
            # without the watchdog it would wait as long as the process stays frozen
            created = await api.gql(
                'mutation { create_item(board_id: 100, item_name: "by hand") { id } }'
            )
            assert created["create_item"]["id"]
            status = await wait_for_job(api, job_id)
            assert status["status"] == "COMPLETED", status
            assert status["counts"]["created"] == ROWS, status
            os.kill(first.process.pid, signal.SIGCONT)
            # the resumed process finds its COPY's connection ended, and its job another's
            async with httpx.AsyncClient(base_url=first.url, timeout=30) as resumed:
                assert (await resumed.get("/healthz")).status_code == 200
            # its pause, had it not run out while frozen, then the write it would make
            await asyncio.sleep(max(0.0, paused_until - time.monotonic()) + 1.0)
            again = await wait_for_job(api, job_id)
            assert again["counts"] == status["counts"], again
    finally:
        stop_server(second)
    await assert_written_once(first)
    assert "ended a chunk transaction stalled in its COPY" in second.log_path.read_text(
        errors="replace"
    )


async def test_live_process_whose_copy_stalls_loses_only_that_chunk(
    first: ServerProcess,
) -> None:
    """The same pause in a live process: its heartbeat cannot renew the lease while the
    chunk holds the job's row, so its own watchdog ends the COPY; the process leaves the
    job, which is claimed again and completes, every row written once."""
    job_id = await start_paused_backfill(first)
    await wait_in_copy(first)
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        status = await wait_for_job(Api(client), job_id)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == ROWS, status
    attempts = await database_rows(
        first, "SELECT attempt FROM import_jobs WHERE id::text = $1", job_id
    )
    assert attempts[0][0] >= 2  # the chunk was ended, and the job claimed again
    await assert_written_once(first)
    assert "ended a chunk transaction stalled in its COPY" in first.log_path.read_text(
        errors="replace"
    )
