"""The chunk writer through a real import: values documents merged, row results stored."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from server.imports import planning
from tests.conftest import Api, ServerProcess
from tests.importing import (
    board_items,
    database_rows,
    download_report,
    items_by_email,
    postgres_socket,
    refusing_name,
    report_by_name,
    run_import,
)

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
    # four chunks; rows 101 and 1402 have a bad number
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
    # chunks of 250, 500, 1,000 and 750 rows, less the invalid rows 101 and 1402
    assert sorted(len(c["lines"]) for c in chunks) == [249, 500, 750, 999]
    clean = {
        line: (s, item_id)
        for c in chunks
        for line, s, item_id in zip(c["lines"], c["statuses"], c["item_ids"], strict=True)
    }
    assert sorted(clean) == [n + 1 for n in range(1, rows + 1) if n not in (101, 1402)]
    assert all(s == "created" and names[i] == f"Lead {line - 1}" for line, (s, i) in clean.items())


def _upsert_file(rows: int, key: Callable[[int], str]) -> tuple[str, dict[int, str]]:
    """Rows "Lead n" with numeric n and email key(n); returns the file and line -> email."""
    emails = {n + 1: key(n) for n in range(1, rows + 1)}  # row n is on line n + 1
    lines = [f"Lead {line - 1},{email},{line - 1}" for line, email in emails.items()]
    return "name,email,numeric\n" + "\n".join(lines) + "\n", emails


async def _stored(server: ServerProcess, job_id: str) -> tuple[Any, Any, Any]:
    """The board's items (id, name, email, numeric), the job's clean rows and the activity."""
    items = await items_by_email(server)
    clean = await database_rows(
        server,
        "SELECT c.line, c.status, c.item_id FROM import_clean_rows r, "
        "unnest(r.lines, r.statuses, r.item_ids) AS c(line, status, item_id) "
        "WHERE r.job_id = $1 ORDER BY c.line",
        uuid.UUID(job_id),
    )
    events = await database_rows(
        server, "SELECT event, count(*) AS n FROM activity_log WHERE board_id = 100 GROUP BY event"
    )
    return items, clean, {r["event"]: r["n"] for r in events}


async def test_upsert_rows_match_items_created_earlier_in_the_file_across_chunks(
    api: Api, server: ServerProcess
) -> None:
    # keys repeat within a chunk and across chunks, new keys appear late, one row matches the
    # fixture's item: each key ends up on one item holding the last row's values
    rows = 2 * planning.CHUNK_ROWS + 500

    def key(n: int) -> str:
        if n == 1500:
            return "old@acme.example.com"
        return f"e{n if n <= 1200 else n * 7919 % 1300 + 1}@acme.example.com"

    body, emails = _upsert_file(rows, key)
    status = await run_import(api, body, on_match=UPSERT_ON_EMAIL)
    first_line: dict[str, int] = {}
    for line, email in emails.items():
        first_line.setdefault(email, line)
    created = {line for email, line in first_line.items() if email != "old@acme.example.com"}
    assert status["counts"] == {
        "submitted": rows, "invalid": 0, "skipped": 0, "failed": 0,
        "created": len(created), "updated": rows - len(created),
    }  # fmt: skip
    items, clean, events = await _stored(server, status["job_id"])
    by_email = {r["email"]: r for r in items}
    assert len(by_email) == len(items) == len(created) + 1  # no key twice
    last_line = {email: line for line, email in emails.items()}
    for email, line in last_line.items():
        assert by_email[email]["name"] == f"Lead {line - 1}"
        assert by_email[email]["numeric"] == str(line - 1)
    assert [r["line"] for r in clean] == list(emails)
    for row in clean:
        assert row["status"] == ("created" if row["line"] in created else "updated"), row
        assert row["item_id"] == by_email[emails[row["line"]]]["id"], row
    assert events == {"create_pulse": len(created), "update_column_values": rows - len(created)}


async def test_upsert_rows_repeating_keys_of_a_refused_chunk(
    api: Api, server: ServerProcess
) -> None:
    # the first chunk is refused (one row) and written row by row; rows of the next chunk
    # repeat the refused row's key (created: its item does not exist) and another row's
    # (updated: that row's item was written row by row)
    rows = planning.CHUNK_ROWS + 3
    body, _ = _upsert_file(
        rows, lambda n: f"e{(5 if n == rows - 1 else 7) if n > planning.CHUNK_ROWS else n}@x.io"
    )
    body = body.replace("\nLead 7,", "\nPoison,")
    async with refusing_name(server, "Poison"):
        status = await run_import(api, body, on_match=UPSERT_ON_EMAIL)
    assert status["counts"] == {
        "submitted": rows, "invalid": 0, "skipped": 0, "failed": 1,
        "created": planning.CHUNK_ROWS, "updated": 2,
    }  # fmt: skip
    items, clean, _ = await _stored(server, status["job_id"])
    by_email = {r["email"]: r for r in items}
    assert len(by_email) == len(items)
    # e7: Poison failed; the first later row with its key created the item, the last updated it
    assert by_email["e7@x.io"]["name"] == f"Lead {rows}"
    assert by_email["e5@x.io"]["name"] == f"Lead {rows - 1}"
    statuses = {r["line"]: r["status"] for r in clean}
    assert statuses[planning.CHUNK_ROWS + 2] == "created"  # Lead 1001, key e7
    assert statuses[rows] == "updated"  # Lead 1002, key e5
    assert statuses[rows + 1] == "updated"  # Lead 1003, key e7 again
    assert 8 not in statuses  # Poison's line: failed, listed in the report


async def test_skip_rows_repeating_the_key_of_a_refused_row(
    api: Api, server: ServerProcess
) -> None:
    # the first row with the key fails; the next creates the item with its own values and
    # the last finds that item and is skipped
    body = "name,email,numeric\nPoison,dup@x.io,1\nAgain,dup@x.io,2\nThird,dup@x.io,3\n"
    async with refusing_name(server, "Poison"):
        status = await run_import(
            api, body, on_match={"behaviour": "SKIP", "match_column_id": "email"}
        )
    assert status["counts"] == {
        "submitted": 3, "invalid": 0, "skipped": 1, "failed": 1, "created": 1, "updated": 0,
    }  # fmt: skip
    items, clean, _ = await _stored(server, status["job_id"])
    (again,) = [r for r in items if r["email"] == "dup@x.io"]
    assert (again["name"], again["numeric"]) == ("Again", "2")
    assert [(r["line"], r["status"], r["item_id"]) for r in clean] == [(3, "created", again["id"])]
    report = await report_by_name(status)
    assert report["Third"]["__status"] == "skipped"
    assert report["Third"]["__item_id"] == str(again["id"])


async def test_a_nameless_row_repeating_the_key_of_a_refused_row_creates_nothing(
    api: Api, server: ServerProcess
) -> None:
    # the row after the refused one would have to create the item but has no name: it is
    # invalid, and the next row with the key and a name creates the item
    body = "name,email,numeric\nPoison,dup@x.io,1\n,dup@x.io,2\nNamed,dup@x.io,3\n"
    async with refusing_name(server, "Poison"):
        status = await run_import(api, body, on_match=UPSERT_ON_EMAIL)
    assert status["counts"] == {
        "submitted": 3, "invalid": 1, "skipped": 0, "failed": 1, "created": 1, "updated": 0,
    }  # fmt: skip
    items, _, _ = await _stored(server, status["job_id"])
    (named,) = [r for r in items if r["email"] == "dup@x.io"]
    assert (named["name"], named["numeric"]) == ("Named", "3")
    statuses = {r["__line"]: (r["__status"], r["__errors"]) for r in await download_report(status)}
    assert statuses["3"] == ("invalid", "name: MISSING_NAME: The item name is empty"), statuses


async def test_an_update_the_database_refuses_fails_alone(api: Api, server: ServerProcess) -> None:
    # the chunk's created rows went by COPY before the refused update: rolled back with it,
    # then written again row by row, once each
    body = (
        "name,email,numeric\n"
        "New one,one@x.io,1\n"
        "Poison,old@acme.example.com,2\n"
        "New two,two@x.io,3\n"
        "New one again,one@x.io,4\n"
    )
    async with refusing_name(server, "Poison"):
        status = await run_import(api, body, on_match=UPSERT_ON_EMAIL)
    assert status["counts"] == {
        "submitted": 4, "invalid": 0, "skipped": 0, "failed": 1, "created": 2, "updated": 1,
    }  # fmt: skip
    items = {r["email"]: r for r in await items_by_email(server)}
    assert (items["one@x.io"]["name"], items["one@x.io"]["numeric"]) == ("New one again", "4")
    assert items["two@x.io"]["name"] == "New two"
    assert items["old@acme.example.com"]["name"] == "Existing lead"  # unchanged
    assert len(items) == 3
    report = await report_by_name(status)
    assert report["Poison"]["__status"] == "failed"
