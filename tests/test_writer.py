"""The chunk writer through a real import: values documents merged, row results stored."""

from __future__ import annotations

import uuid

import asyncpg

from server.imports import planning
from tests.conftest import Api, ServerProcess
from tests.importing import board_items, postgres_socket, run_import

UPSERT_ON_EMAIL = {"behaviour": "UPSERT", "match_column_id": "email"}


async def test_rows_updating_one_item_apply_in_file_order(api: Api) -> None:
    body = (
        "name,email,status,text,numeric\n"
        "First name,old@acme.example.com,<NULL>,first,5\n"
        "Last name,old@acme.example.com,Stuck,second,<NULL>\n"
        "Last name,old@acme.example.com,<NULL>,,\n"
    )
    status = await run_import(api, body, on_match=UPSERT_ON_EMAIL)
    assert status["counts"]["updated"] == 3 and status["counts"]["failed"] == 0, status
    items = await board_items(api)
    assert items["Last name"]["id"] == "1000"
    # the fixture's own values stay; each row's values and clears land in file order
    assert items["Last name"]["values"] == {
        "email": "old@acme.example.com",
        "people": "Ada Admin",
        "text": "second",
    }


async def test_update_merges_into_the_stored_document(api: Api) -> None:
    body = "name,email,numeric\nExisting lead,old@acme.example.com,7\n"
    status = await run_import(api, body, on_match=UPSERT_ON_EMAIL)
    assert status["counts"]["updated"] == 1, status
    assert (await board_items(api))["Existing lead"]["values"] == {
        "status": "Done",
        "email": "old@acme.example.com",
        "numeric": "7",
        "people": "Ada Admin",
    }


async def test_clean_rows_are_stored_a_chunk_to_a_row(api: Api, server: ServerProcess) -> None:
    # more than two chunks; rows 101 and 1402 have a bad number
    rows = 2 * planning.CHUNK_ROWS + 500
    lines = [f"Lead {n},{'x' if n in (101, 1402) else n}" for n in range(1, rows + 1)]
    status = await run_import(api, "name,numeric\n" + "\n".join(lines) + "\n")
    assert status["counts"]["created"] == rows - 2 and status["counts"]["invalid"] == 2, status
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        job_id = uuid.UUID(status["job_id"])
        listed = await conn.fetch(
            "SELECT line, status FROM import_rows WHERE job_id = $1 ORDER BY line", job_id
        )
        chunks = await conn.fetch(
            "SELECT lines, statuses, item_ids FROM import_clean_rows WHERE job_id = $1", job_id
        )
        items = await conn.fetch(
            "SELECT id, name, position, level, parent_id, creator_id, group_id, created_at, "
            "updated_at, column_values::text AS document FROM items "
            "WHERE board_id = 100 AND name LIKE 'Lead %' ORDER BY position"
        )
    finally:
        await conn.close()
    names = {r["id"]: r["name"] for r in items}
    # what the writer put in front of the worker's encoded rows, and what the worker encoded
    assert [r["name"] for r in items] == [
        f"Lead {n}" for n in range(1, rows + 1) if n not in (101, 1402)
    ]
    positions = [r["position"] for r in items]
    assert positions == list(range(positions[0], positions[0] + len(items)))
    assert {(r["level"], r["parent_id"], r["creator_id"], r["group_id"]) for r in items} == {
        (1, None, 10, "topics")
    }
    assert all(r["created_at"] == r["updated_at"] for r in items)
    assert items[0]["document"] == '{"numeric":{"value":"1","text":"1"}}'
    # line numbers count the header: row n is on line n + 1
    assert [(r["line"], r["status"]) for r in listed] == [(102, "invalid"), (1403, "invalid")]
    assert len(chunks) == 3
    clean = {
        line: (s, item_id)
        for c in chunks
        for line, s, item_id in zip(c["lines"], c["statuses"], c["item_ids"], strict=True)
    }
    assert sorted(clean) == [n + 1 for n in range(1, rows + 1) if n not in (101, 1402)]
    assert all(s == "created" and names[i] == f"Lead {line - 1}" for line, (s, i) in clean.items())
