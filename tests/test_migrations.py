"""The migrations against a database that holds data in an older schema: 0010 moves the
column_values rows into the items' documents, is applied once, and run again by hand touches
nothing."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from server import db, sql
from tests.conftest import ServerProcess
from tests.importing import postgres_socket

DOCUMENTS = "0010_item_value_documents.sql"
OLD_DATA = """
INSERT INTO accounts (id, name, slug) VALUES (1, 'Acme', 'acme');
INSERT INTO boards (id, account_id, name, uid, slug) VALUES (10, 1, 'Leads', 'u10', 'leads');
INSERT INTO groups (board_id, id, title, position) VALUES (10, 'topics', 'Topics', 0);
INSERT INTO items (id, board_id, group_id, name) VALUES
    (100, 10, 'topics', 'With values'), (101, 10, 'topics', 'Without values');
INSERT INTO column_values (item_id, column_id, value, text) VALUES
    (100, 'status', '{"index": 1, "label": "Done"}', 'Done'),
    (100, 'text', '"it''s \\"quoted\\""', 'it''s "quoted"');
"""


@pytest.fixture
async def old_database(server: ServerProcess) -> AsyncIterator[str]:
    """A fresh database of the embedded PostgreSQL with the migrations before 0010 and data;
    yields its URL."""
    host, port = postgres_socket(server)
    name = f"migrations_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        conn = await asyncpg.connect(host=host, port=port, user="postgres", database=name)
        try:
            for migration, text in sql.migrations():
                if migration < DOCUMENTS:
                    await conn.execute(text)
            await conn.execute(OLD_DATA)
        finally:
            await conn.close()
        yield f"postgresql://postgres@/{name}?host={host}&port={port}"
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()


async def documents(pool: db.Pool) -> dict[int, object]:
    rows = await pool.fetch("SELECT id, column_values FROM items ORDER BY id")
    return {row["id"]: row["column_values"] for row in rows}


async def test_migration_moves_values_into_item_documents_once(old_database: str) -> None:
    pool = await db.create_pool(old_database, min_size=1, max_size=1)
    try:
        await db.migrate(pool)
        expected = {
            100: {
                "status": {"value": {"index": 1, "label": "Done"}, "text": "Done"},
                "text": {"value": 'it\'s "quoted"', "text": 'it\'s "quoted"'},
            },
            101: {},
        }
        assert await documents(pool) == expected
        assert await pool.fetchval("SELECT to_regclass('column_values')") is None
        foreign_keys = await pool.fetch(
            "SELECT confrelid::regclass::text AS target FROM pg_constraint "
            "WHERE conrelid = 'items'::regclass AND contype = 'f' ORDER BY 1"
        )
        # 0012 replaced the keys to groups and users by statement-level triggers
        assert [row["target"] for row in foreign_keys] == ["items"]

        applied = await pool.fetchval("SELECT count(*) FROM schema_migrations")
        await db.migrate(pool)  # a second start applies nothing again
        assert await pool.fetchval("SELECT count(*) FROM schema_migrations") == applied
        await pool.execute(dict(sql.migrations())[DOCUMENTS])  # still idempotent
        assert await documents(pool) == expected
        assert await pool.fetchval("SELECT to_regclass('column_values')") is None
    finally:
        await pool.close()
