"""SIGKILL in the middle of an import: after a restart every row is imported exactly once;
SIGKILL as a job ends: its callback is sent once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.blue import put_file, start_import, wait_for_report
from tests.conftest import (
    Api,
    ServerProcess,
    shared_s3,
    start_server,
    stop_server,
)
from tests.importing import items_by_email, job_status, start_job, upload, wait_for_job
from tests.test_zoho_options import Receiver

ROWS = 20_000
LEASE = "2"  # seconds: a dead runner's job is taken over quickly


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """An S3 endpoint that outlives server processes, and a data dir they share."""
    # two parsing workers: a create-only file is shared between them, and either may die
    with shared_s3("crash", JOB_LEASE_SECONDS=LEASE, PARSE_WORKERS="2") as env:
        yield tmp_path_factory.mktemp("crash-data"), env


def kill(server: ServerProcess) -> None:
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()


async def wait_for_progress(check: object, low: int) -> None:
    for _ in range(600):
        if await check() >= low:  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not make progress")


async def all_names(api: Api, board: str = "100") -> list[str]:
    names: list[str] = []
    page = 1
    while True:
        data = await api.gql(
            "query($b: [ID!], $p: Int) { boards(ids: $b) { items(limit: 500, page: $p) { name } } }",
            {"b": [board], "p": page},
        )
        batch = [i["name"] for i in data["boards"][0]["items"]]
        names += batch
        if len(batch) < 500:
            return names
        page += 1


async def test_monday_import_killed_twice_imports_every_row_exactly_once(
    first: ServerProcess, shared: tuple[Path, dict[str, str]]
) -> None:
    data_dir, env = shared
    body = "name,numeric\n" + "".join(f"row {i},{i}\n" for i in range(ROWS))
    server = first
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        job = await start_job(api, mutation="backfill_items")
        assert (await upload(job["upload_url"], body)).status_code == 200

        async def progress() -> int:
            return int((await job_status(api, job["job_id"]))["progress_percentage"])

        await wait_for_progress(progress, random.randint(5, 30))
    kill(server)
    for low in (random.randint(40, 60), None):
        server = start_server(data_dir, extra_env=env)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            api = Api(client)
            if low is not None:
                await wait_for_progress(progress_on(api, job["job_id"]), low)
                kill(server)
                continue
            status = await wait_for_job(api, job["job_id"])
            names = await all_names(api)
        stop_server(server)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == ROWS
    imported = [n for n in names if n.startswith("row ")]
    assert len(imported) == len(set(imported)) == ROWS


async def test_upsert_killed_mid_way_matches_the_rows_it_created_before(
    first: ServerProcess, shared: tuple[Path, dict[str, str]]
) -> None:
    # keys repeat every KEYS rows: after the restart, rows match items created before the kill
    # (their lines and ids come back from the stored row results) and update them
    data_dir, env = shared
    rows, keys = 10_000, 4_000
    body = "name,email,numeric\n" + "".join(f"row {n},k{n % keys}@x.io,{n}\n" for n in range(rows))
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        api = Api(client)
        job = await start_job(
            api,
            mutation="ingest_items",
            on_match={"behaviour": "UPSERT", "match_column_id": "email"},
        )
        assert (await upload(job["upload_url"], body)).status_code == 200
        await wait_for_progress(progress_on(api, job["job_id"]), random.randint(5, 40))
    kill(first)
    server = start_server(data_dir, extra_env=env)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            status = await wait_for_job(Api(client), job["job_id"])
        stored = await stored_by_email(server)
    finally:
        stop_server(server)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == keys and status["counts"]["updated"] == rows - keys
    last = {f"k{n % keys}@x.io": n for n in range(rows)}
    assert stored == {email: [(f"row {n}", str(n))] for email, n in last.items()}


async def stored_by_email(server: ServerProcess) -> dict[str, list[tuple[str, str]]]:
    """email -> (name, numeric) of each imported item holding that email."""
    stored: dict[str, list[tuple[str, str]]] = {}
    for row in await items_by_email(server):
        if row["name"].startswith("row "):
            stored.setdefault(row["email"], []).append((row["name"], row["numeric"]))
    return stored


def progress_on(api: Api, job_id: str) -> object:
    async def progress() -> int:
        return int((await job_status(api, job_id))["progress_percentage"])

    return progress


async def test_blue_import_killed_mid_way_resumes_and_imports_every_row_once(
    first: ServerProcess, shared: tuple[Path, dict[str, str]]
) -> None:
    data_dir, env = shared
    body = "Title\n" + "".join(f"rec {i}\n" for i in range(ROWS))
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        api = Api(client)
        key = await put_file(api, "leads", body)
        assert (await start_import(api, "leads", key, ["Title"])).json() == {
            "data": {"importTodos": True}
        }

        async def progress() -> int:
            report = (await api.gql('{ todoImportReport(projectId: "leads") { imported } }'))[
                "todoImportReport"
            ]
            return int(report["imported"] * 100 / ROWS) if report else 0

        await wait_for_progress(progress, random.randint(10, 60))
    kill(first)
    server = start_server(data_dir, extra_env=env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        report = await wait_for_report(api, "leads")
        names = await all_names(api)
    stop_server(server)
    assert report["status"] == "COMPLETE", report
    imported = [n for n in names if n.startswith("rec ")]
    assert len(imported) == len(set(imported)) == ROWS


async def started_workers(server: ServerProcess, count: int) -> list[psutil.Process]:
    """The server's `count` parsing workers, once it has started them all."""
    for _ in range(200):
        workers = parsing_workers(server)
        if len(workers) >= count:
            return workers
        await asyncio.sleep(0.05)
    raise AssertionError(f"the server started {len(workers)} parsing workers, not {count}")


def parsing_workers(server: ServerProcess) -> list[psutil.Process]:
    """The server's parsing workers: the children spawned by multiprocessing that do not
    listen on a port (the embedded S3 does)."""
    workers = []
    for child in psutil.Process(server.process.pid).children():
        with contextlib.suppress(psutil.Error):  # a killed one lingers as a zombie a moment
            if (
                child.status() != psutil.STATUS_ZOMBIE
                and "spawn_main" in " ".join(child.cmdline())
                and not any(c.status == psutil.CONN_LISTEN for c in child.net_connections())
            ):
                workers.append(child)
    return workers


async def test_parsing_worker_killed_mid_import_is_replaced_and_every_row_imported_once(
    first: ServerProcess,
) -> None:
    body = "name,numeric\n" + "".join(f"row {i},{i}\n" for i in range(ROWS))
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        api = Api(client)
        workers = await started_workers(first, 2)
        job = await start_job(api, mutation="backfill_items")
        assert (await upload(job["upload_url"], body)).status_code == 200
        await wait_for_progress(progress_on(api, job["job_id"]), random.randint(5, 40))
        for worker in workers:  # the file is shared between them: any one's death stops it
            worker.kill()
        status = await wait_for_job(api, job["job_id"])
        names = await all_names(api)
        replacements = parsing_workers(first)
    assert len(replacements) == len(workers) == 2
    assert not {w.pid for w in replacements} & {w.pid for w in workers}
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == ROWS
    imported = [n for n in names if n.startswith("row ")]
    assert len(imported) == len(set(imported)) == ROWS


async def test_parsing_worker_exits_when_its_server_is_killed(first: ServerProcess) -> None:
    workers = await started_workers(first, 2)
    kill(first)
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive and len(gone) == len(workers)


async def test_callback_of_a_job_whose_server_died_as_it_ended_is_sent_once_after_a_restart(
    first: ServerProcess, shared: tuple[Path, dict[str, str]]
) -> None:
    # the process kills itself right after the job's terminal status is committed
    data_dir, env = shared
    crash = {"operation": "job_end", "error": "CRASH"}
    with Receiver(failures=0) as receiver:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            api = Api(client)
            assert (await api.admin("POST", "/__admin/faults", crash)).status_code == 200
            job = await start_job(api, callback={"url": receiver.url, "method": "POST"})
            assert (await upload(job["upload_url"], "name\nCalled back\n")).status_code == 200
            assert await asyncio.to_thread(first.process.wait, 60) == -signal.SIGKILL
        server = start_server(data_dir, extra_env=env)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                status = await wait_for_job(Api(client), job["job_id"])
            for _ in range(100):
                if receiver.received:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2)  # time enough for a second delivery, were there one
        finally:
            stop_server(server)
    assert status["status"] == "COMPLETED", status
    assert len(receiver.received) == 1, receiver.received
    headers, body = receiver.received[0]
    assert headers["X-Attempt"] == "1"
    payload = json.loads(body)
    assert (payload["job_id"], payload["status"]) == (job["job_id"], "COMPLETED")
    assert payload["counts"]["created"] == 1 and payload["fully_imported"]
