"""Two server processes on one database and one bucket: events and jobs cross between them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.blue import next_event, put_file, start_import, subscribe, websocket
from tests.conftest import (
    ADMIN_TOKEN,
    Api,
    ServerProcess,
    server_pair,
    shared_s3,
)
from tests.importing import (
    csv_text,
    database_rows,
    paused_job,
    run_import,
    start_job,
    upload,
    wait_for_job,
)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Processes A and B sharing the embedded PostgreSQL of one data dir and one S3 endpoint."""
    with (
        shared_s3("shared") as env,
        server_pair(tmp_path_factory.mktemp("shared-data"), env) as pair,
    ):
        yield pair


@pytest.fixture
async def api_a(pair: tuple[ServerProcess, ServerProcess]) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=pair[0].url, timeout=30) as client:
        api = Api(client)
        response = await client.post("/__admin/reset", headers={"X-Admin-Token": ADMIN_TOKEN})
        assert response.status_code == 200
        yield api


async def test_subscriber_on_one_process_sees_an_import_another_runs(
    api_a: Api, pair: tuple[ServerProcess, ServerProcess]
) -> None:
    body = "Title\n" + "".join(f"r{i}\n" for i in range(1200))
    key = await put_file(api_a, "leads", body)
    async with websocket(pair[1].url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "10")
        assert (await start_import(api_a, "leads", key, ["Title"])).json() == {
            "data": {"importTodos": True}
        }
        statuses = []
        while not statuses or statuses[-1] == "IN_PROGRESS":
            statuses.append((await next_event(ws))["status"])
    assert statuses[0] == "IN_PROGRESS" and statuses[-1] == "COMPLETE"


async def test_jobs_started_on_either_process_each_run_exactly_once(
    api_a: Api, pair: tuple[ServerProcess, ServerProcess]
) -> None:
    async with httpx.AsyncClient(base_url=pair[1].url, timeout=30) as client:
        api_b = Api(client)
        body = "name\n" + "".join(f"item {i}\n" for i in range(3000))
        first = await run_import(api_a, body, mutation="backfill_items")
        second = await run_import(api_b, body, mutation="backfill_items")
    assert first["counts"]["created"] == second["counts"]["created"] == 3000
    data = await api_a.gql("{ boards(ids: [100]) { items(limit: 500, page: 13) { id } } }")
    assert (
        len(data["boards"][0]["items"]) == 1
    )  # 1 fixture item + 6000: 6001 items, page 13 has one


async def test_two_upserts_of_the_same_keys_on_two_processes_create_each_key_once(
    api_a: Api, pair: tuple[ServerProcess, ServerProcess]
) -> None:
    rows = 5_000  # each: two of them stay within the hourly budget
    body = csv_text(
        ["name", "email"], [[f"lead {i}", f"lead{i}@acme.example.com"] for i in range(rows)]
    )
    upsert = {"behaviour": "UPSERT", "match_column_id": "email"}
    first = await start_job(api_a, on_match=upsert)
    assert (await upload(first["upload_url"], body)).status_code == 200
    # the first job paused in its middle keeps one process busy: the other takes the second
    async with paused_job(pair[0], first["job_id"]):
        second = await start_job(api_a, on_match=upsert)
        assert (await upload(second["upload_url"], body)).status_code == 200
        await asyncio.sleep(2)  # noticed, and claimed if it may run now
    ended = [await wait_for_job(api_a, job["job_id"]) for job in (first, second)]
    assert [e["status"] for e in ended] == ["COMPLETED", "COMPLETED"], ended
    doubled = await database_rows(
        pair[0],
        "SELECT column_values -> 'email' ->> 'text' AS email, count(*) FROM items "
        "WHERE board_id = 100 AND state = 'active' GROUP BY 1 HAVING count(*) > 1",
    )
    assert len(doubled) == 0, f"{len(doubled)} keys created twice, e.g. {doubled[:3]}"
    # the second job runs after the first and matches every row it created
    assert ended[0]["counts"]["created"] == rows, ended
    assert ended[1]["counts"]["updated"] == rows, ended
