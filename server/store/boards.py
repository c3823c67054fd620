"""Boards, columns, groups, items and column values: the read side."""

from __future__ import annotations

from collections import defaultdict

from server import sql
from server.db import Pool
from server.store.records import (
    ActivityRecord,
    Board,
    ColumnRecord,
    ColumnValueRecord,
    GroupRecord,
    ItemRecord,
    User,
)

Q = sql.queries("boards")


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
    ) -> list[Board]:
        rows = await self.pool.fetch(
            Q["visible_boards"], user.account_id, user.id, user.is_admin, ids, state, limit, offset
        )
        return [Board.from_row(row, is_admin=user.is_admin) for row in rows]

    async def board_for_user(self, user: User, ref: str) -> Board | None:
        """A board of the caller's account by id, uid or slug; None if unknown or not visible."""
        row = await self.pool.fetchrow(Q["board_for_user"], user.account_id, user.id, ref)
        if row is None:
            return None
        board = Board.from_row(row, is_admin=user.is_admin)
        return board if board.role is not None else None

    async def columns(self, board_ids: list[int]) -> dict[int, list[ColumnRecord]]:
        result: dict[int, list[ColumnRecord]] = defaultdict(list)
        for row in await self.pool.fetch(Q["columns_of_boards"], board_ids):
            result[row["board_id"]].append(ColumnRecord.from_row(row))
        return result

    async def groups(self, board_ids: list[int]) -> dict[int, list[GroupRecord]]:
        result: dict[int, list[GroupRecord]] = defaultdict(list)
        for row in await self.pool.fetch(Q["groups_of_boards"], board_ids):
            result[row["board_id"]].append(GroupRecord.from_row(row))
        return result

    async def items_of_board(self, board_id: int, limit: int, offset: int) -> list[ItemRecord]:
        rows = await self.pool.fetch(Q["items_of_board"], board_id, limit, offset)
        return [ItemRecord.from_row(row) for row in rows]

    async def items_by_ids(self, user: User, ids: list[int], limit: int) -> list[ItemRecord]:
        rows = await self.pool.fetch(
            Q["items_by_ids"], user.account_id, user.id, user.is_admin, ids, limit
        )
        return [ItemRecord.from_row(row) for row in rows]

    async def column_values(self, item_ids: list[int]) -> dict[int, list[ColumnValueRecord]]:
        result: dict[int, list[ColumnValueRecord]] = defaultdict(list)
        for row in await self.pool.fetch(Q["column_values_of_items"], item_ids):
            result[row["item_id"]].append(ColumnValueRecord.from_row(row))
        return result

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
