"""Boards, columns, groups, items and column values: the read side, and the writes that
shape a board (boards, columns, groups)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from server import sql
from server.db import Connection, Pool
from server.imports import cells
from server.store.items import TagRecord, UpdateRecord, fetch_one
from server.store.records import (
    ActivityRecord,
    Board,
    ColumnRecord,
    ColumnValueRecord,
    GroupRecord,
    ItemRecord,
    Row,
    RowRecord,
    User,
)

Q = sql.queries("boards")
DEFAULT_GROUP_COLOR = "#579bfc"  # monday's blue, the groups table default
R = TypeVar("R", bound=RowRecord)


class LastGroup(Exception):
    """Closing this group would leave its board without a live group."""


def _group_records(rows: Iterable[Row], key: str, record: type[R]) -> dict[int, list[R]]:
    """Each row's record listed under the row's `key` column, in row order; a key no row
    carries reads [] (a board without columns, an item without values)."""
    result: dict[int, list[R]] = defaultdict(list)
    for row in rows:
        result[row[key]].append(record.from_row(row))
    return result


class BoardStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def visible_boards(
        self,
        user: User,
        *,
        ids: list[int] | None = None,
        state: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        board_kind: str | None = None,
        newest_first: bool = False,
    ) -> list[Board]:
        rows = await self.pool.fetch(
            Q["visible_boards"],
            user.account_id, user.id, user.is_admin, ids, state, limit, offset,
            board_kind, newest_first,
        )  # fmt: skip
        return [Board.from_row(row, is_admin=user.is_admin) for row in rows]

    async def board_for_user(self, user: User, ref: str) -> Board | None:
        """A board of the caller's account by id, uid or slug; None if unknown or not visible."""
        if not sql.storable(ref):
            return None  # names no board, and PostgreSQL refuses it as a text parameter
        row = await self.pool.fetchrow(Q["board_for_user"], user.account_id, user.id, ref)
        if row is None:
            return None
        board = Board.from_row(row, is_admin=user.is_admin)
        return board if board.role is not None else None

    async def columns(self, board_ids: list[int]) -> dict[int, list[ColumnRecord]]:
        rows = await self.pool.fetch(Q["columns_of_boards"], board_ids)
        return _group_records(rows, "board_id", ColumnRecord)

    async def groups(self, board_ids: list[int]) -> dict[int, list[GroupRecord]]:
        rows = await self.pool.fetch(Q["groups_of_boards"], board_ids)
        return _group_records(rows, "board_id", GroupRecord)

    async def items_of_board(self, board_id: int, limit: int, offset: int) -> list[ItemRecord]:
        rows = await self.pool.fetch(Q["items_of_board"], board_id, limit, offset)
        return [ItemRecord.from_row(row) for row in rows]

    async def items_by_ids(self, user: User, ids: list[int], limit: int) -> list[ItemRecord]:
        rows = await self.pool.fetch(
            Q["items_by_ids"], user.account_id, user.id, user.is_admin, ids, limit
        )
        return [ItemRecord.from_row(row) for row in rows]

    async def column_values(self, item_ids: list[int]) -> dict[int, list[ColumnValueRecord]]:
        rows = await self.pool.fetch(Q["column_values_of_items"], item_ids)
        return _group_records(rows, "item_id", ColumnValueRecord)

    async def activity(self, board_id: int, limit: int, offset: int) -> list[ActivityRecord]:
        rows = await self.pool.fetch(Q["activity_of_board"], board_id, limit, offset)
        return [ActivityRecord.from_row(row) for row in rows]

    async def assignee_ids(self, item_id: int) -> list[int]:
        return [row["id"] for row in await self.pool.fetch(Q["assignees_of_item"], item_id)]

    async def item_tags(self, item_id: int) -> list[tuple[int, str, str]]:
        rows = await self.pool.fetch(Q["tags_of_item"], item_id)
        return [(row["id"], row["name"], row["color"]) for row in rows]

    async def item_names(self, board_ids: list[int]) -> dict[int, dict[int, str]]:
        """board_id -> {item_id: name}, for resolving board-relation cells."""
        result: dict[int, dict[int, str]] = defaultdict(dict)
        for row in await self.pool.fetch(Q["item_names_of_boards"], board_ids):
            result[row["board_id"]][row["id"]] = row["name"]
        return result

    async def items_page(
        self,
        user: User,
        *,
        ids: list[int] | None = None,
        state: str | None = None,
        board_id: int | None = None,
        group_id: str | None = None,
        order: str = "id",
        limit: int | None = None,
        offset: int = 0,
        board_states: Sequence[str] | None = None,
    ) -> list[ItemRecord]:
        """Items the caller may see, of boards in `board_states` (None: any); `order` is 'id',
        'position' (board order) or 'newest'."""
        rows = await self.pool.fetch(
            Q["items_page"],
            user.account_id, user.id, user.is_admin, ids, state, board_id, group_id, order,
            limit, offset, board_states,
        )  # fmt: skip
        return [ItemRecord.from_row(row) for row in rows]

    async def items_by_column_value(
        self, board_id: int, column_id: str, value: str, state: str | None, limit: int, offset: int
    ) -> list[ItemRecord]:
        """Items whose column reads `value`; a dropdown's item also when one of its labels
        does (its text joins them with commas, which a label may hold too)."""
        label_ids = None
        for column in (await self.columns([board_id]))[board_id]:
            if column.id == column_id and column.type == "dropdown":
                label_ids = cells.dropdown_ids(column.cell_column(), value)
        rows = await self.pool.fetch(
            Q["items_by_column_value"], board_id, column_id, value, state, limit, offset, label_ids
        )
        return [ItemRecord.from_row(row) for row in rows]

    async def members(self, board_id: int) -> list[tuple[User, str]]:
        """The board's members (monday's subscribers) with their roles."""
        rows = await self.pool.fetch(Q["members_of_board"], board_id)
        return [(User.from_row(row), row["role"]) for row in rows]

    async def board_tags(self, board_id: int) -> list[TagRecord]:
        return [TagRecord.from_row(row) for row in await self.pool.fetch(Q["board_tags"], board_id)]

    async def public_tags(self, user: User, ids: list[int] | None) -> list[TagRecord]:
        rows = await self.pool.fetch(Q["public_tags"], user.account_id, user.id, user.is_admin, ids)
        return [TagRecord.from_row(row) for row in rows]

    async def updates(
        self,
        user: User,
        *,
        ids: list[int] | None = None,
        board_id: int | None = None,
        item_id: int | None = None,
        limit: int,
        offset: int,
        board_states: Sequence[str] | None = None,
    ) -> list[UpdateRecord]:
        """Updates on items the caller may see, of boards in `board_states` (None: any),
        newest first."""
        rows = await self.pool.fetch(
            Q["updates_page"],
            user.account_id, user.id, user.is_admin, ids, board_id, item_id, limit, offset,
            board_states,
        )  # fmt: skip
        return [UpdateRecord.from_row(row) for row in rows]

    async def update_authors(self, item_id: int) -> list[int]:
        return [row["creator_id"] for row in await self.pool.fetch(Q["update_authors"], item_id)]

    async def create_board(
        self,
        user: User,
        *,
        name: str,
        board_kind: str,
        description: str | None,
        uid: str,
        first_group: tuple[str, str],
        now: datetime,
    ) -> Board:
        """A board owned by `user` with one empty group (id, title)."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await fetch_one(
                conn,
                Q["create_board"],
                user.account_id,
                name,
                uid,
                description,
                board_kind,
                user.id,
                now,
            )
            await conn.execute(Q["add_board_member"], row["id"], user.id, "OWNER")
            await self.insert_group(conn, row["id"], *first_group, at_top=False)
        return dataclasses.replace(Board.from_row(row), role="OWNER")

    async def set_board_state(self, board: Board, state: str, now: datetime) -> Board:
        row = await fetch_one(self.pool, Q["set_board_state"], board.id, state, now)
        return dataclasses.replace(Board.from_row(row), role=board.role)

    async def create_column(
        self, board_id: int, column_id: str, title: str, column_type: str, settings: dict[str, Any]
    ) -> ColumnRecord | None:
        """The new last column; None when the board already has a column with that id."""
        row = await self.pool.fetchrow(
            Q["create_column"], board_id, column_id, title, column_type, settings
        )
        return ColumnRecord.from_row(row) if row else None

    async def column_ids(self, board_id: int) -> set[str]:
        return {row["id"] for row in await self.pool.fetch(Q["column_ids"], board_id)}

    async def add_labels(
        self, board_id: int, column_id: str, labels: Sequence[str]
    ) -> ColumnRecord:
        """Append the labels a status or dropdown column does not have yet."""
        async with self.pool.acquire() as conn, conn.transaction():
            column = ColumnRecord.from_row(
                await fetch_one(conn, Q["lock_column"], board_id, column_id)
            )
            current = column.settings.get("labels")
            entries = list(current) if isinstance(current, list) else []
            known = {e if isinstance(e, str) else (e or {}).get("label") for e in entries}
            entries.extend(label for label in dict.fromkeys(labels) if label not in known)
            settings = {**column.settings, "labels": entries}
            row = await fetch_one(conn, Q["set_column_settings"], board_id, column_id, settings)
        return ColumnRecord.from_row(row)

    @staticmethod
    async def insert_group(
        conn: Connection,
        board_id: int,
        group_id: str,
        title: str,
        color: str = DEFAULT_GROUP_COLOR,
        *,
        at_top: bool,
    ) -> GroupRecord | None:
        """A new group first or last on the board; None when the id is taken. `conn` is in a
        transaction, which holds the board's row lock until it ends."""
        # two groups created at once would both read the same first or last position: the
        # lock makes the second wait until the first is committed, then read past it
        await conn.execute(Q["lock_board"], board_id)
        row = await conn.fetchrow(Q["insert_group"], board_id, group_id, title, color, at_top)
        return GroupRecord.from_row(row) if row else None

    async def group_of_item(self, board_id: int, group_id: str) -> GroupRecord | None:
        """An item's group, in any state (deleted ones included)."""
        row = await self.pool.fetchrow(Q["group_in_any_state"], board_id, group_id)
        return GroupRecord.from_row(row) if row else None

    async def group(self, board_id: int, group_id: str) -> GroupRecord | None:
        """A group that is not deleted (archived ones included)."""
        row = await self.pool.fetchrow(Q["group_of_board"], board_id, group_id)
        return GroupRecord.from_row(row) if row else None

    async def close_group(
        self, board_id: int, group_id: str, state: str, *, user_id: int, now: datetime
    ) -> GroupRecord | None:
        """Archive or delete a group with its items, logged as `archive_group`/`delete_group`
        with the ids of the items it took along; None when there is no such group. Raises
        LastGroup for the board's last live group (neither archived nor deleted)."""
        event = {"archived": "archive_group", "deleted": "delete_group"}[state]
        async with self.pool.acquire() as conn, conn.transaction():
            # two closings of the board's last two live groups would each see the other one
            # still live: the board's row lock makes the second wait for the first to commit
            await conn.execute(Q["lock_board"], board_id)
            group = await conn.fetchrow(Q["group_of_board"], board_id, group_id)
            if group is None:
                return None
            if not group["archived"] and await conn.fetchval(Q["live_group_count"], board_id) <= 1:
                raise LastGroup(group_id)
            row = await fetch_one(conn, Q[event], board_id, group_id)
            items = await conn.fetch(Q["set_group_items_state"], board_id, group_id, state, now)
            data = {"group_id": group_id, "group_title": row["title"],
                    "pulse_ids": [item["id"] for item in items]}  # fmt: skip
            await conn.execute(Q["log_board_event"], board_id, user_id, event, data, now)
        return GroupRecord.from_row(row)
