"""Changes a client makes to a board while an import writes to it: whatever lands first, no
item ends up in a closed group or on a deleted board, positions stay unique, and the job's
counts are the rows the database holds.

Each test pauses the import in the middle deterministically (`paused_job`: the job's row lock
held once a first chunk has committed) and makes its change while the next chunk is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from tests.blue import put_file, start_import, wait_for_report
from tests.conftest import Api, ServerProcess
from tests.importing import (
    csv_text,
    database_rows,
    paused_job,
    postgres_socket,
    report_by_name,
    run_import,
    start_job,
    upload,
    wait_for_job,
)

ROWS = 10_000  # enough chunks that the job is still writing when it is paused
JOB_START_TIMEOUT = 60.0  # seconds
T = TypeVar("T")
SETTLE = 0.5  # seconds a blocked mutation is given to show it does not finish on its own


async def uploaded_job(api: Api, body: str, **options: Any) -> str:
    """A monday job started with `options` and its file uploaded: its id."""
    job = await start_job(api, **options)
    assert (await upload(job["upload_url"], body)).status_code == 200
    return job["job_id"]


async def while_paused(server: ServerProcess, job_id: str, request: Awaitable[T]) -> T:
    """`request`'s answer, sent while the job is paused in its middle (`paused_job`); the job
    goes on after SETTLE, as the request may be waiting for the chunk being written."""
    async with paused_job(server, job_id):
        sent = asyncio.ensure_future(request)
        await asyncio.sleep(SETTLE)
    return await sent


async def latest_job(server: ServerProcess, kind: str) -> str:
    deadline = time.monotonic() + JOB_START_TIMEOUT
    while True:
        rows = await database_rows(
            server,
            "SELECT id FROM import_jobs WHERE kind = $1 ORDER BY created_at DESC LIMIT 1",
            kind,
        )
        if rows:
            return str(rows[0]["id"])
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def check_board(server: ServerProcess, job_id: str, created: int) -> None:
    """The invariants: every item in an existing group, none active in a closed group,
    positions unique on the board, and the job's `created` count the items it wrote."""
    orphans = await database_rows(
        server,
        "SELECT i.id FROM items i LEFT JOIN groups g ON g.board_id = i.board_id "
        "AND g.id = i.group_id WHERE g.id IS NULL",
    )
    assert orphans == []
    hidden = await database_rows(
        server,
        "SELECT i.id, g.id AS group_id FROM items i JOIN groups g ON g.board_id = i.board_id "
        "AND g.id = i.group_id WHERE i.state = 'active' AND (g.deleted OR g.archived)",
    )
    assert len(hidden) == 0, f"{len(hidden)} active items in closed groups, e.g. {hidden[:3]}"
    doubled = await database_rows(
        server,
        "SELECT board_id, position, count(*) FROM items GROUP BY board_id, position "
        "HAVING count(*) > 1",
    )
    assert len(doubled) == 0, f"{len(doubled)} positions held twice, e.g. {doubled[:3]}"
    written = await database_rows(
        server,
        "SELECT count(*) AS n FROM items WHERE id IN ("
        " SELECT item_id FROM import_rows WHERE job_id = $1 AND status = 'created'"
        " UNION SELECT unnest(item_ids) FROM import_clean_rows WHERE job_id = $1"
        " AND 'created' = ANY(statuses))",
        uuid.UUID(job_id),
    )
    assert written[0]["n"] == created


CLOSINGS = {
    "delete_group": 'mutation { delete_group(board_id: 100, group_id: "topics") { id } }',
    "archive_group": 'mutation { archive_group(board_id: 100, group_id: "topics") { id } }',
    "delete_board": "mutation { delete_board(board_id: 100) { id } }",
}


WRITES = {
    "create_item": 'mutation { create_item(board_id: 100, item_name: "by hand") { id } }',
    "duplicate_group": 'mutation { duplicate_group(board_id: 100, group_id: "topics") { id } }',
}


@pytest.mark.parametrize("change", sorted(CLOSINGS) + sorted(WRITES))
async def test_board_changed_while_an_import_writes_keeps_items_visible_and_positions_unique(
    api: Api, server: ServerProcess, change: str
) -> None:
    body = csv_text(["name", "text"], [[f"row {i}", "x"] for i in range(ROWS)])
    job_id = await uploaded_job(api, body)
    response = await while_paused(server, job_id, api.post({**CLOSINGS, **WRITES}[change]))
    assert "errors" not in response.json(), response.json()
    status = await wait_for_job(api, job_id)
    await check_board(server, job_id, status["counts"]["created"])
    if change in WRITES:
        assert status["status"] == "COMPLETED" and status["counts"]["created"] == ROWS, status
        return
    # the rows written before the close stay (closed with their group); the others are not
    # written into a group or board that takes no items
    assert status["status"] == "FAILED", status
    assert status["failure_reason"] in ("INVALID_UPLOAD", "PERMISSION_DENIED"), status
    assert 0 < status["counts"]["created"] < ROWS, status
    if change == "delete_board":  # nothing was written after the board was deleted
        late = await database_rows(
            server,
            "SELECT count(*) AS n FROM items i JOIN boards b ON b.id = i.board_id "
            "WHERE b.id = 100 AND i.created_at > b.updated_at",
        )
        assert late[0]["n"] == 0


# Blue imports


async def start_blue(api: Api, rows: int) -> None:
    key = await put_file(api, "leads", "Title\n" + "".join(f"r{i}\n" for i in range(rows)))
    response = await start_import(api, "leads", key, ["Title"])
    assert response.json() == {"data": {"importTodos": True}}, response.text


# a deleted list's records go to the first open list, as a new import's would
BLUE_CHANGES = {"delete_group": CLOSINGS["delete_group"], "create_item": WRITES["create_item"]}


@pytest.mark.parametrize("change", sorted(BLUE_CHANGES))
async def test_board_changed_while_a_blue_import_writes_keeps_every_record_visible(
    api: Api, server: ServerProcess, change: str
) -> None:
    await start_blue(api, ROWS)
    job_id = await latest_job(server, "blue")
    response = await while_paused(server, job_id, api.post(BLUE_CHANGES[change]))
    assert "errors" not in response.json(), response.json()
    report = await wait_for_report(api, "leads")
    assert report["status"] == "COMPLETE" and report["imported"] == ROWS, report
    await check_board(server, job_id, ROWS)


async def test_cancel_during_a_blue_import_keeps_the_records_it_counts(
    api: Api, server: ServerProcess
) -> None:
    await start_blue(api, ROWS)
    job_id = await latest_job(server, "blue")
    # the cancel is recorded on the job's row: it waits for the chunk being written
    cancel = api.gql('mutation { cancelTodoImport(projectId: "leads") }')
    assert await while_paused(server, job_id, cancel) == {"cancelTodoImport": True}
    report = await wait_for_report(api, "leads")
    assert report["status"] == "CANCELLED", report
    assert 0 < report["imported"] < ROWS, report
    await check_board(server, job_id, report["imported"])


# v2 item writes and group closings


@contextlib.asynccontextmanager
async def held_user(server: ServerProcess, user_id: int) -> AsyncIterator[None]:
    """Hold a user's row lock: a write that refers to that user (an item's creator, an activity
    row) waits, after its checks, in the middle of its transaction."""
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
            yield
    finally:
        await conn.close()


# item 2000 in the group "closed", to be moved to "topics"
ELSEWHERE = {
    "accounts": [{"id": 1, "name": "Acme", "slug": "acme"}],
    "boards": [{"id": 100, "account_id": 1, "name": "Leads",
                "items": [{"id": 2000, "name": "elsewhere", "group_id": "closed"}]}],
}  # fmt: skip
ACTIVE_IN_DELETED_GROUPS = (
    "SELECT i.id FROM items i JOIN groups g ON g.board_id = i.board_id AND g.id = i.group_id "
    "WHERE i.state = 'active' AND g.deleted"
)
ITEM_WRITES = {
    "create_item": 'mutation { create_item(board_id: 100, group_id: "topics", item_name: "new") '
    "{ id } }",
    "move_item_to_group": 'mutation { move_item_to_group(item_id: 2000, group_id: "topics") '
    "{ id } }",
}


@pytest.mark.parametrize("write", sorted(ITEM_WRITES))
async def test_group_closed_while_an_item_goes_into_it_takes_the_item_along(
    api: Api, server: ServerProcess, write: str
) -> None:
    await api.load_fixture(ELSEWHERE)
    async with held_user(server, 11):  # Bob writes the item; Ada closes the group
        written = asyncio.create_task(api.post(ITEM_WRITES[write], token="tok-bob"))
        await asyncio.sleep(SETTLE)
        closed = asyncio.create_task(api.post(CLOSINGS["delete_group"]))
        await asyncio.sleep(SETTLE)
    for response in (await written, await closed):
        assert "errors" not in response.json(), response.json()
    assert await database_rows(server, ACTIVE_IN_DELETED_GROUPS) == []


async def test_item_deleted_while_an_upsert_writes_keeps_its_values_and_the_row_is_reported(
    api: Api, server: ServerProcess
) -> None:
    rows = 5_000  # a backfill, then an upsert of the same keys within the hourly budget
    leads = [[f"lead {i}", f"lead{i}@acme.example.com"] for i in range(rows)]
    created = await run_import(api, csv_text(["name", "email"], leads), mutation="backfill_items")
    assert created["counts"]["created"] == rows, created
    found = await database_rows(server, "SELECT id FROM items WHERE name = $1", "lead 4999")
    last = found[0]["id"]
    body = csv_text(["name", "email", "text"], [[*lead, "updated"] for lead in leads])
    job_id = await uploaded_job(
        api, body, on_match={"behaviour": "UPSERT", "match_column_id": "email"}
    )
    async with paused_job(server, job_id):
        deleted = await api.post(f"mutation {{ delete_item(item_id: {last}) {{ id }} }}")
        assert "errors" not in deleted.json(), deleted.json()
    status = await wait_for_job(api, job_id)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["updated"] == rows - 1 and status["counts"]["failed"] == 1, status
    kept = await database_rows(
        server, "SELECT state, column_values -> 'text' AS text FROM items WHERE id = $1", last
    )
    assert [tuple(r) for r in kept] == [("deleted", None)]
    report = await report_by_name(status)
    assert report["lead 4999"]["__status"] == "failed", report["lead 4999"]
    assert "ITEM_GONE" in report["lead 4999"]["__errors"], report["lead 4999"]


async def test_reset_during_an_import_leaves_only_the_fixture(
    api: Api, server: ServerProcess
) -> None:
    body = csv_text(["name"], [[f"row {i}"] for i in range(ROWS)])
    job_id = await uploaded_job(api, body)
    logged = len(server.log())
    reset = await while_paused(server, job_id, api.admin("POST", "/__admin/reset"))
    assert reset.status_code == 200
    await asyncio.sleep(2)  # the job's runner, now fenced out, tries its next chunk
    items = await database_rows(server, "SELECT id FROM items WHERE board_id = 100")
    assert [r["id"] for r in items] == [1000]
    assert await database_rows(server, "SELECT id FROM import_jobs") == []
    response = await api.post(
        "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { status } } }",
        {"id": job_id},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND", response.json()
    # the runner stops at its next chunk, without retrying its rows one by one into errors
    assert "Traceback" not in server.log()[logged:], server.log()[logged:]


PARENT_CLOSINGS = ["delete_item", "archive_item"]


@pytest.mark.parametrize("closing", PARENT_CLOSINGS)
async def test_parent_closed_while_its_subitems_are_written_takes_them_along(
    api: Api, server: ServerProcess, closing: str
) -> None:
    children = csv_text(["name", "parent"], [[f"child {i}", "P"] for i in range(ROWS)])
    query = """mutation($s: ItemsJobSubitemsInput) { ingest_items(board_id: 100, group_id: "topics",
        subitems: $s) { job_id upload_url subitems_upload_url } }"""
    subitems = {"parent_key_column_id": "name", "parent_key_header": "parent"}
    job = (await api.gql(query, {"s": subitems}))["ingest_items"]
    assert (await upload(job["upload_url"], "name\nP\n")).status_code == 200
    assert (await upload(job["subitems_upload_url"], children)).status_code == 200

    async def close_parent() -> httpx.Response:  # once the job has written it
        found = await database_rows(server, "SELECT id FROM items WHERE name = 'P'")
        return await api.post(f"mutation {{ {closing}(item_id: {found[0]['id']}) {{ id }} }}")

    response = await while_paused(server, job["job_id"], close_parent())
    assert "errors" not in response.json(), response.json()
    status = await wait_for_job(api, job["job_id"])
    assert status["status"] == "COMPLETED", status
    hidden = await database_rows(
        server,
        "SELECT c.id FROM items c JOIN items p ON p.id = c.parent_id "
        "WHERE c.state = 'active' AND p.state <> 'active'",
    )
    assert len(hidden) == 0, f"{len(hidden)} active subitems under a closed parent"
    await check_board(server, job["job_id"], status["counts"]["created"])


@pytest.mark.parametrize("write", sorted(ITEM_WRITES))
async def test_item_write_that_finds_its_group_closed_once_it_may_write_is_refused(
    api: Api, server: ServerProcess, write: str
) -> None:
    await api.load_fixture(ELSEWHERE)
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        # a group closing holding the board's lock, as close_group does, while the write
        # (its checks passed) waits for that lock
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM boards WHERE id = 100 FOR NO KEY UPDATE")
            written = asyncio.create_task(api.post(ITEM_WRITES[write]))
            await asyncio.sleep(SETTLE)
            await conn.execute(
                "UPDATE groups SET deleted = true WHERE board_id = 100 AND id = 'topics';"
                "UPDATE items SET state = 'deleted' WHERE board_id = 100 AND group_id = 'topics'"
            )
    finally:
        await conn.close()
    body = (await written).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
    assert await database_rows(server, ACTIVE_IN_DELETED_GROUPS) == []


async def test_workspace_deleted_while_a_blue_import_writes_ends_it_with_what_it_wrote(
    api: Api, server: ServerProcess
) -> None:
    await start_blue(api, ROWS)
    job_id = await latest_job(server, "blue")
    async with paused_job(server, job_id):
        deleted = await api.post(CLOSINGS["delete_board"])
        assert "errors" not in deleted.json(), deleted.json()
    rows = await database_rows(
        server,
        "SELECT status, counts, failure_message FROM import_jobs WHERE id = $1",
        uuid.UUID(job_id),
    )
    deadline = time.monotonic() + JOB_START_TIMEOUT
    while rows[0]["status"] == "PROCESSING":
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.2)
        rows = await database_rows(
            server,
            "SELECT status, counts, failure_message FROM import_jobs WHERE id = $1",
            uuid.UUID(job_id),
        )
    assert rows[0]["status"] == "FAILED", rows
    assert rows[0]["failure_message"] == "The workspace or the user is gone", rows
    imported = json.loads(rows[0]["counts"])["created"]
    assert 0 < imported < ROWS, rows
    await check_board(server, job_id, imported)


async def test_job_taken_over_in_its_middle_writes_every_row_once(
    api: Api, server: ServerProcess
) -> None:
    body = csv_text(["name"], [[f"row {i}"] for i in range(ROWS)])
    job_id = await uploaded_job(api, body)
    # as if another runner had claimed the job (its lease run out) and died at once: the
    # runner still at work is fenced out at its next chunk, and the job resumed after
    takeover = database_rows(
        server,
        "UPDATE import_jobs SET attempt = attempt + 1, lease_expires_at = now() - interval '1 s' "
        "WHERE id = $1 RETURNING attempt",
        uuid.UUID(job_id),
    )
    assert (await while_paused(server, job_id, takeover))[0]["attempt"] == 2
    status = await wait_for_job(api, job_id)
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == ROWS, status
    doubled = await database_rows(
        server, "SELECT name FROM items WHERE board_id = 100 GROUP BY name HAVING count(*) > 1"
    )
    assert doubled == []
    await check_board(server, job_id, ROWS)
    attempts = await database_rows(
        server, "SELECT attempt FROM import_jobs WHERE id = $1", uuid.UUID(job_id)
    )
    assert attempts[0]["attempt"] == 3  # resumed by a claim of its own


async def emails(server: ServerProcess, *addresses: str) -> dict[str, list[tuple[int, str, str]]]:
    """email -> (id, name, text value) of each active item of board 100 holding it."""
    rows = await database_rows(
        server,
        "SELECT id, name, column_values -> 'email' ->> 'text' AS email, "
        "column_values -> 'text' ->> 'text' AS text FROM items "
        "WHERE board_id = 100 AND state = 'active' "
        "AND column_values -> 'email' ->> 'text' = ANY($1::text[]) ORDER BY id",
        list(addresses),
    )
    found: dict[str, list[tuple[int, str, str]]] = {address: [] for address in addresses}
    for row in rows:
        found[row["email"]].append((row["id"], row["name"], row["text"]))
    return found


@pytest.mark.parametrize("report", [None, "ALL_ROWS"])  # rows encoded for COPY, or not
async def test_upsert_matches_keys_as_other_writers_leave_them_while_it_runs(
    api: Api, server: ServerProcess, report: str | None
) -> None:
    # an item that holds a key when the job starts, and gives it up for another meanwhile;
    # an item created meanwhile with a key the job would create
    def email(address: str) -> str:
        return json.dumps({"email": {"email": address, "text": address}})

    create = """mutation($v: JSON) { create_item(board_id: 100, group_id: "topics",
        item_name: "by hand", column_values: $v) { id } }"""
    kept = int((await api.gql(create, {"v": email("old@x.io")}))["create_item"]["id"])
    rows = 5_000  # within the hourly budget of ingest_items, which takes on_match
    keyed = [[f"row {i}", f"k{i}@x.io", "imported"] for i in range(rows)]
    late = [["late", "new@x.io", "imported"], ["old", "old@x.io", "imported"]]
    moved = [["moved", "moved@x.io", "imported"], ["moved again", "moved@x.io", "imported"]]
    body = csv_text(["name", "email", "text"], keyed + late + moved)
    job_id = await uploaded_job(
        api, body, report=report,
        on_match={"behaviour": "UPSERT", "match_column_id": "email"},
    )  # fmt: skip

    async def change_keys() -> int:
        created = await api.gql(create, {"v": email("new@x.io")})
        changed = await api.post(
            """mutation($i: ID, $v: JSON!) { change_multiple_column_values(board_id: 100,
                item_id: $i, column_values: $v) { id } }""",
            {"i": kept, "v": email("moved@x.io")},
        )
        assert "errors" not in changed.json(), changed.json()
        return int(created["create_item"]["id"])

    by_hand = await while_paused(server, job_id, change_keys())
    status = await wait_for_job(api, job_id)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == rows + 1, status  # "old": its key is no one's now
    assert status["counts"]["updated"] == 3, status
    found = await emails(server, "new@x.io", "old@x.io", "moved@x.io")
    assert found["new@x.io"] == [(by_hand, "late", "imported")]
    assert found["moved@x.io"] == [(kept, "moved again", "imported")]
    [(new_id, name, text)] = found["old@x.io"]
    assert new_id not in (kept, by_hand) and (name, text) == ("old", "imported")
