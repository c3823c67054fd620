"""The references of `items` (to groups and users) and of `activity_log` (to boards, items and
users) are checked once per statement by triggers (migration 0012), not by foreign keys: the
same guarantees, tested on a fresh database with every migration applied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.conftest import ServerProcess
from tests.importing import fresh_database

DATA = """
INSERT INTO accounts (id, name, slug) VALUES (1, 'Acme', 'acme');
INSERT INTO users (id, account_id, name, email) VALUES (7, 1, 'Ada', 'ada@acme.test'),
                                                     (8, 1, 'Bob', 'bob@acme.test');
INSERT INTO boards (id, account_id, name, uid, slug) VALUES (10, 1, 'Leads', 'u10', 'leads'),
                                                           (11, 1, 'Deals', 'u11', 'deals');
INSERT INTO groups (board_id, id, title, position) VALUES (10, 'g1', 'One', 0), (10, 'g2', 'Two', 1),
                                                          (11, 'g1', 'One', 0);
INSERT INTO items (id, board_id, group_id, name, creator_id) VALUES
    (100, 10, 'g1', 'first', 7), (101, 10, 'g2', 'second', 8), (102, 11, 'g1', 'third', 7);
INSERT INTO activity_log (board_id, item_id, user_id, event) VALUES
    (10, 100, 7, 'create_pulse'), (10, 101, 8, 'create_pulse'), (11, 102, 7, 'create_pulse');
"""
ITEM = ["id", "board_id", "group_id", "name", "creator_id"]


@pytest.fixture
async def database(server: ServerProcess) -> AsyncIterator[str]:
    """A fresh database of the embedded PostgreSQL, migrated, with DATA; yields its URL."""
    async with fresh_database(server, "references", DATA) as url:
        yield url


@pytest.fixture
async def sessions(database: str) -> AsyncIterator[list[asyncpg.Connection]]:
    """Two sessions on the fresh database."""
    connections = [await asyncpg.connect(database) for _ in range(2)]
    try:
        yield connections
    finally:
        for connection in connections:
            await connection.close()


@pytest.fixture
def conn(sessions: list[asyncpg.Connection]) -> asyncpg.Connection:
    return sessions[0]


@pytest.fixture
def other(sessions: list[asyncpg.Connection]) -> asyncpg.Connection:
    return sessions[1]


async def item_ids(conn: asyncpg.Connection) -> list[int]:
    return [r["id"] for r in await conn.fetch("SELECT id FROM items ORDER BY id")]


async def test_copy_with_one_missing_group_is_refused_whole(conn: asyncpg.Connection) -> None:
    records = [(200, 10, "g1", "ok", 7), (201, 10, "nope", "bad", 7), (202, 11, "g1", "ok", 8)]
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="groups"):
        await conn.copy_records_to_table("items", records=records, columns=ITEM)
    assert await item_ids(conn) == [100, 101, 102]
    # the group exists on another board: the pair is what is checked
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="groups"):
        await conn.copy_records_to_table("items", records=[(203, 11, "g2", "x", 7)], columns=ITEM)
    await conn.copy_records_to_table("items", records=[records[0], records[2]], columns=ITEM)
    assert await item_ids(conn) == [100, 101, 102, 200, 202]


async def test_missing_creator_is_refused_and_null_is_allowed(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="users"):
        await conn.execute(
            "INSERT INTO items (id, board_id, group_id, name, creator_id) VALUES (300, 10, 'g1', 'x', 99)"
        )
    await conn.execute(
        "INSERT INTO items (id, board_id, group_id, name, creator_id) VALUES (300, 10, 'g1', 'x', NULL)"
    )
    assert 300 in await item_ids(conn)


async def test_updates_of_references_are_checked(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="groups"):
        await conn.execute("UPDATE items SET group_id = 'nope' WHERE id = 100")
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="users"):
        await conn.execute("UPDATE items SET creator_id = 99 WHERE id = 100")
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="items"):
        await conn.execute("UPDATE activity_log SET item_id = 999 WHERE item_id = 100")
    await conn.execute("UPDATE items SET group_id = 'g2', creator_id = 8 WHERE id = 100")
    row = await conn.fetchrow("SELECT group_id, creator_id FROM items WHERE id = 100")
    assert (row["group_id"], row["creator_id"]) == ("g2", 8)
    # an update that leaves the references alone checks nothing
    await conn.execute("UPDATE items SET name = 'renamed'")


async def test_activity_rows_need_their_board_item_and_user(conn: asyncpg.Connection) -> None:
    for board, item, user, target in [
        (99, 100, 7, "boards"),
        (10, 999, 7, "items"),
        (10, 100, 99, "users"),
    ]:
        with pytest.raises(asyncpg.ForeignKeyViolationError, match=target):
            await conn.execute(
                "INSERT INTO activity_log (board_id, item_id, user_id, event) "
                "SELECT 10, 100, 7, 'ok' UNION ALL SELECT $1, $2, $3, 'bad'",
                board, item, user,
            )  # fmt: skip
    assert await conn.fetchval("SELECT count(*) FROM activity_log") == 3


async def test_deleting_a_group_deletes_its_items_and_their_activity(
    conn: asyncpg.Connection,
) -> None:
    await conn.execute("DELETE FROM groups WHERE board_id = 10 AND id = 'g1'")
    assert await item_ids(conn) == [101, 102]
    assert await conn.fetchval("SELECT array_agg(item_id ORDER BY item_id) FROM activity_log") == [
        101,
        102,
    ]


async def test_deleting_a_board_cascades_through_groups(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM boards WHERE id = 10")
    assert await item_ids(conn) == [102]
    assert await conn.fetchval("SELECT array_agg(board_id) FROM activity_log") == [11]


async def test_deleting_a_user_clears_the_references(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM users WHERE id = 7")
    creators = await conn.fetch("SELECT id, creator_id FROM items ORDER BY id")
    assert [(r["id"], r["creator_id"]) for r in creators] == [(100, None), (101, 8), (102, None)]
    users = await conn.fetch("SELECT item_id, user_id FROM activity_log ORDER BY item_id")
    assert [(r["item_id"], r["user_id"]) for r in users] == [(100, None), (101, 8), (102, None)]


async def test_referenced_keys_cannot_change(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="items"):
        await conn.execute("UPDATE groups SET id = 'g9' WHERE board_id = 10 AND id = 'g1'")
    with pytest.raises(asyncpg.ForeignKeyViolationError, match='"users" changes a key'):
        await conn.execute("UPDATE users SET id = 70 WHERE id = 7")
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="activity_log"):
        await conn.execute("UPDATE items SET id = 1000 WHERE id = 100")
    # a key nothing refers to can change
    await conn.execute(
        "INSERT INTO groups (board_id, id, title, position) VALUES (10, 'g3', 'Three', 2)"
    )
    await conn.execute("UPDATE groups SET id = 'g4' WHERE board_id = 10 AND id = 'g3'")


async def test_a_delete_waits_for_the_insert_and_then_cascades(
    conn: asyncpg.Connection, other: asyncpg.Connection
) -> None:
    inserting = conn.transaction()
    await inserting.start()
    await conn.copy_records_to_table("items", records=[(400, 10, "g1", "new", 7)], columns=ITEM)
    deleting = asyncio.create_task(
        other.execute("DELETE FROM groups WHERE board_id = 10 AND id = 'g1'")
    )
    await asyncio.sleep(0.5)
    assert not deleting.done()  # the group is locked FOR KEY SHARE by the insert
    await inserting.commit()
    await asyncio.wait_for(deleting, timeout=10)
    assert await item_ids(conn) == [101, 102]


async def test_an_insert_waits_for_the_delete_and_then_fails(
    conn: asyncpg.Connection, other: asyncpg.Connection
) -> None:
    deleting = other.transaction()
    await deleting.start()
    await other.execute("DELETE FROM groups WHERE board_id = 10 AND id = 'g1'")
    inserting = asyncio.create_task(
        conn.copy_records_to_table("items", records=[(401, 10, "g1", "new", 7)], columns=ITEM)
    )
    await asyncio.sleep(0.5)
    assert not inserting.done()
    await deleting.commit()
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="groups"):
        await asyncio.wait_for(inserting, timeout=10)
    assert await item_ids(conn) == [101, 102]
