"""`update_items` (db/queries/imports.sql), the statement that writes an upsert's matched
items: a new document replaces the stored one only when it has a value for every column the
stored one has; any other document is merged into it. Run on a fresh, migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from server import db, sql
from server.imports import writer
from tests.conftest import ServerProcess
from tests.importing import fresh_database

DATA = """
INSERT INTO accounts (id, name, slug) VALUES (1, 'Acme', 'acme');
INSERT INTO users (id, account_id, name, email) VALUES (7, 1, 'Ada', 'ada@acme.test');
INSERT INTO boards (id, account_id, name, uid, slug) VALUES (10, 1, 'Leads', 'u10', 'leads');
INSERT INTO groups (board_id, id, title, position) VALUES (10, 'g1', 'One', 0);
INSERT INTO items (id, board_id, group_id, name, creator_id, column_values) VALUES
    (100, 10, 'g1', 'first', 7,
     '{"date": {"value": "2026-01-02", "text": "2026-01-02"},
       "date4": {"value": "2027-03-04", "text": "2027-03-04"},
       "text": {"value": "old", "text": "old"}}');
"""
NOW = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture
async def conn(server: ServerProcess) -> AsyncIterator[asyncpg.Connection]:
    async with fresh_database(server, "update_items", DATA) as url:
        pool = await db.create_pool(url, min_size=1, max_size=1)
        try:
            async with pool.acquire() as connection:
                yield connection
        finally:
            await pool.close()


def entry(text: str) -> dict[str, str]:
    return {"value": text, "text": text}


async def update(
    conn: asyncpg.Connection, sets: dict[str, Any], clears: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Write one change to item 100 as the writer does; return its document afterwards."""
    await conn.execute(
        sql.queries("imports")["update_items"], NOW, [100], ["renamed"],
        [orjson.dumps(sets).decode()], [orjson.dumps(list(clears)).decode()], [writer._keys(sets)],
    )  # fmt: skip
    row = await conn.fetchrow("SELECT name, column_values FROM items WHERE id = 100")
    assert row["name"] == "renamed"
    document: dict[str, Any] = row["column_values"]
    return document


async def test_a_document_with_every_stored_column_replaces_the_stored_one(
    conn: asyncpg.Connection,
) -> None:
    sets = {"text": entry("new"), "date4": entry("2028-01-01"), "date": entry("2029-01-01")}
    assert await update(conn, sets) == sets


async def test_a_column_the_new_document_lacks_keeps_its_stored_value(
    conn: asyncpg.Connection,
) -> None:
    # "date" starts "date4": listing one must not pass for the other...
    after = await update(conn, {"text": entry("new"), "date": entry("2029-01-01")})
    assert after == {
        "text": entry("new"), "date": entry("2029-01-01"), "date4": entry("2027-03-04"),
    }  # fmt: skip
    after = await update(conn, {"text": entry("newer"), "date4": entry("2030-01-01")})
    assert after["date"] == entry("2029-01-01")
    assert after["date4"] == entry("2030-01-01")
    # ... nor "mytext" for "text", which ends it
    after = await update(conn, {"date": entry("1"), "date4": entry("2"), "mytext": entry("3")})
    assert after["text"] == entry("newer")


async def test_cleared_columns_go_and_the_rest_is_merged(conn: asyncpg.Connection) -> None:
    after = await update(conn, {"text": entry("new")}, clears=("date",))
    assert after == {"text": entry("new"), "date4": entry("2027-03-04")}


async def test_a_document_adding_columns_replaces_one_it_covers(
    conn: asyncpg.Connection,
) -> None:
    sets = {
        "text": entry("new"), "date": entry("2029-01-01"), "date4": entry("2030-01-01"),
        "status": entry("Done"),
    }  # fmt: skip
    assert await update(conn, sets) == sets


async def test_a_column_id_holding_the_separator_is_merged(conn: asyncpg.Connection) -> None:
    odd = f"da{writer.KEY_SEPARATOR}te"
    assert writer._keys(["text", odd]) is None
    after = await update(conn, {"text": entry("new"), odd: entry("x")})
    assert after["date"] == entry("2026-01-02")
    assert after[odd] == entry("x")


def test_keys_lists_each_column_between_separators() -> None:
    sep = writer.KEY_SEPARATOR
    assert writer._keys(["a", "bc"]) == f"{sep}a{sep}bc{sep}"
    assert writer._keys([]) == f"{sep}{sep}"
    assert writer._keys({"a": 1}) == f"{sep}a{sep}"
