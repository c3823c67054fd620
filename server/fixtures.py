"""Loading fixture files (CONTRACT §4): additive, ids kept, one transaction per load."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import asyncpg

from server import sql
from server.db import Connection, Pool
from server.errors import BadUserInput
from server.imports import cells
from server.store import directory as directory_store
from server.store import items as item_store
from server.store.accounts import hash_token
from server.store.records import ROLES

Q = sql.queries("fixtures")
COLUMN_TYPES = frozenset(
    {
        "text", "long_text", "numbers", "status", "dropdown", "date", "timeline", "people",
        "phone", "email", "link", "board_relation", "checkbox", "currency", "tags",
    }
)  # fmt: skip


def read_fixture(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise BadUserInput(f"fixture {path} is not a JSON object")
    return data


def _hash(value: str | None) -> str | None:
    return hash_token(value) if value else None


def _new_uid() -> str:
    # Blue ids are 25-character cuid-like strings
    return "c" + secrets.token_hex(12)


async def load_fixture(pool: Pool, data: dict[str, Any]) -> None:
    """Load one fixture document into the database, all or nothing."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            await _load(conn, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadUserInput(f"invalid fixture: {type(exc).__name__}: {exc}") from exc
    except asyncpg.PostgresError as exc:
        raise BadUserInput(f"invalid fixture: {exc}") from exc


async def _load(conn: Connection, data: dict[str, Any]) -> None:
    for account in data.get("accounts", []):
        await conn.execute(
            Q["upsert_account"],
            account["id"],
            account["name"],
            account.get("slug") or str(account["id"]),
            account.get("plan", "basic"),
        )
    for user in data.get("users", []):
        await conn.execute(
            Q["upsert_user"],
            user["id"],
            user["account_id"],
            user["name"],
            user.get("email", ""),
            _hash(user.get("token")),
            user.get("token_id"),
            _hash(user.get("token_secret")),
            bool(user.get("is_admin", False)),
            bool(user.get("enabled", True)),
            user.get("kind", "member"),
        )
    for team in data.get("teams", []):
        await conn.execute(Q["upsert_team"], team["id"], team["account_id"], team["name"])
        for user_id in team.get("user_ids", []):
            await conn.execute(Q["add_team_member"], team["id"], user_id)
    boards = data.get("boards", [])
    board_ids = [await _load_board(conn, board) for board in boards]
    await conn.execute(Q["bump_sequences"])
    # Values come last: people and board-relation cells refer to users and items loaded above.
    for board, board_id in zip(boards, board_ids, strict=True):
        await _load_values(conn, board, board_id)
    await conn.execute(Q["bump_sequences"])


async def _load_board(conn: Connection, board: dict[str, Any]) -> int:
    members = board.get("members", [])
    owner = next((m["user_id"] for m in members if m.get("role") == "OWNER"), None)
    board_id: int = await conn.fetchval(
        Q["upsert_board"],
        board.get("id"),
        board["account_id"],
        board["name"],
        board.get("uid") or _new_uid(),
        board.get("slug") or str(board.get("id") or secrets.token_hex(4)),
        board.get("description"),
        board.get("board_kind", "public"),
        board.get("state", "active"),
        int(board.get("hierarchy_levels", 1)),
        owner,
    )
    for member in members:
        if member["role"] not in ROLES:
            raise ValueError(f"unknown role {member['role']!r}")
        await conn.execute(Q["upsert_board_member"], board_id, member["user_id"], member["role"])
    groups = board.get("groups") or [{"id": "topics", "title": "Group Title"}]
    for position, group in enumerate(groups):
        await conn.execute(Q["upsert_group"], board_id, group["id"], group["title"], position)
    for position, column in enumerate(board.get("columns", [])):
        if column["type"] not in COLUMN_TYPES:
            raise ValueError(f"unknown column type {column['type']!r}")
        await conn.execute(
            Q["upsert_column"],
            board_id,
            column["id"],
            column.get("title", column["id"]),
            column["type"],
            column.get("settings", {}),
            position,
        )
    default_group = groups[0]["id"]
    for position, item in enumerate(board.get("items", [])):
        item["id"] = await conn.fetchval(
            Q["upsert_item"],
            item.get("id"),
            board_id,
            item.get("group_id", default_group),
            item.get("parent_id"),
            int(item.get("level", 2 if item.get("parent_id") else 1)),
            item["name"],
            position,
            item.get("creator_id", owner),
        )
    return board_id


async def _load_values(conn: Connection, board: dict[str, Any], board_id: int) -> None:
    columns = {
        c["id"]: cells.Column(
            id=c["id"],
            title=c.get("title", c["id"]),
            type=c["type"],
            settings=c.get("settings", {}),
        )
        for c in board.get("columns", [])
    }
    targets = [int(b) for c in columns.values() for b in c.settings.get("board_ids", [])]
    directory = await directory_store.load_directory(
        conn, board["account_id"], [board_id, *targets]
    )
    for item in board.get("items", []):
        values: dict[str, tuple[Any, str]] = {}
        for column_id, raw in item.get("values", {}).items():
            if column_id not in columns:
                raise ValueError(f"item {item['name']!r}: unknown column {column_id!r}")
            try:
                cell = cells.parse_cell(columns[column_id], str(raw), directory)
            except cells.CellError as exc:
                raise ValueError(
                    f"item {item['name']!r}, column {column_id!r}: {exc.message}"
                ) from exc
            if cell is not None and cell.value is not None:
                values[column_id] = (cell.value, cell.text)
        if values:
            await conn.execute(
                Q["upsert_column_values"], item["id"], item_store.value_document(values)
            )


async def reset(pool: Pool) -> None:
    """Delete all data and return the clock to real time."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q["reset_all"])
        await conn.execute(Q["reset_clock"])
