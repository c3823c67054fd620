"""The connection pool returns connections without asyncpg's reset query (`db._release`): that
holds only while nothing leaves session state on a pool connection, which these tests keep so."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server import db, sql
from tests.conftest import ServerProcess
from tests.importing import fresh_database

SERVER_DIR = Path(db.__file__).resolve().parent
# statements whose effect outlives their transaction
SESSION_STATEMENT = re.compile(r"(SET|RESET|LISTEN|UNLISTEN|DECLARE|PREPARE|DISCARD)\b", re.I)
SESSION_CALLS = re.compile(
    r"pg_advisory_lock|pg_advisory_lock_shared|CREATE\s+TEMP|WITH\s+HOLD|set_config", re.I
)
COMMENT = re.compile(r"--[^\n]*")


@pytest.fixture
async def database(server: ServerProcess) -> AsyncIterator[str]:
    async with fresh_database(server, "pool") as url:
        yield url


async def test_a_transaction_left_open_is_rolled_back_on_release(database: str) -> None:
    pool = await db.create_pool(database, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TABLE left_open (x integer)")
        async with pool.acquire() as conn:  # the same connection: the pool holds one
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('left_open')") is None
    finally:
        await pool.close()


async def test_a_released_connection_keeps_what_a_transaction_did(database: str) -> None:
    pool = await db.create_pool(database, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("CREATE TABLE kept (x integer)")
            await conn.execute("SELECT pg_advisory_xact_lock(1)")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT to_regclass('kept')::text") == "kept"
            held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            assert await conn.fetchval(held) == 0
    finally:
        await pool.close()


def named_queries() -> list[tuple[str, str]]:
    found = []
    for path in sorted((sql.DB_DIR / "queries").glob("*.sql")):
        for name, text in sql.queries(path.stem).items():
            found.append((f"{path.stem}.{name}", COMMENT.sub("", text)))
    return found


def test_no_named_query_leaves_session_state() -> None:
    queries = named_queries()
    assert len(queries) > 50  # the files were read
    for name, text in queries:
        for statement in filter(None, (s.strip() for s in text.split(";"))):
            assert not SESSION_STATEMENT.match(statement), name
        assert not SESSION_CALLS.search(text), name


def test_no_server_code_leaves_session_state() -> None:
    sources = {path: path.read_text("utf-8") for path in SERVER_DIR.rglob("*.py")}
    assert len(sources) > 30
    for path, text in sources.items():
        assert not SESSION_CALLS.search(text), path
        # SQL in Python strings is written in capitals, as in the .sql files
        assert not re.search(r"[\"'](SET|RESET|LISTEN|UNLISTEN|DISCARD)\s", text), path
        if path.name != "events.py":  # the listener has its own connection, outside the pool
            assert "add_listener" not in text, path


def test_the_guards_see_what_they_look_for() -> None:
    assert SESSION_STATEMENT.match("SET statement_timeout = 0")
    assert not SESSION_STATEMENT.match("UPDATE items\nSET name = 'x'")
    assert SESSION_CALLS.search("SELECT pg_advisory_lock(1)")
    assert not SESSION_CALLS.search("SELECT pg_advisory_xact_lock(1)")
    assert SESSION_CALLS.search("CREATE TEMP TABLE t (x int)")
