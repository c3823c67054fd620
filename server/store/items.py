"""Items, their column values, updates, notifications and tags: the monday v2 write side.

Every change to an item is written with its activity-log entry in one transaction, in the
event vocabulary of monday's activity logs (`create_pulse`, `update_column_value`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server import sql
from server.db import Connection, Pool
from server.store.records import ItemRecord, Row, RowRecord

Q = sql.queries("items")
BOARDS = sql.queries("boards")
# an item's `column_values`: column id -> {"value": the column type's JSON, "text": display text}
Document = dict[str, dict[str, Any]]


class GroupClosed(Exception):
    """The group an item was to go into was deleted or archived before the write could lock
    the board (after the caller had checked it)."""


@dataclass(frozen=True, kw_only=True)
class ValueWrite:
    """One column's new stored value and text; `value` None clears the column."""

    column_id: str
    column_type: str
    column_title: str
    value: Any
    text: str


@dataclass(frozen=True, kw_only=True)
class UpdateRecord(RowRecord):
    id: int
    board_id: int
    item_id: int
    creator_id: int | None
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class TagRecord(RowRecord):
    id: int
    account_id: int
    board_id: int | None
    name: str
    color: str


@dataclass(frozen=True, kw_only=True)
class NotificationRecord(RowRecord):
    id: int
    user_id: int
    text: str


def value_document(values: Mapping[str, tuple[Any, str]]) -> Document:
    """An item's values document from column id -> (value, text)."""
    return {column: {"value": value, "text": text} for column, (value, text) in values.items()}


def _apply_writes(document: Document, writes: Sequence[ValueWrite]) -> Document:
    """An item's values document with the writes applied in order (a None value clears)."""
    written = dict(document)
    for write in writes:
        if write.value is None:
            written.pop(write.column_id, None)
        else:
            written[write.column_id] = {"value": write.value, "text": write.text}
    return written


async def fetch_one(conn: Connection | Pool, query: str, *args: Any) -> Row:
    """The one row a statement always returns (an insert's RETURNING, a locked item)."""
    row = await conn.fetchrow(query, *args)
    assert row is not None, query
    return row


async def _lock_open_group(conn: Connection, board_id: int, group_id: str) -> None:
    """Take the board's row lock and check that the group still takes items. Closing a group
    takes that lock first, then closes its items: an item written into the group without it
    could land after the closing and stay active in a group no one sees."""
    await conn.execute(BOARDS["lock_board"], board_id)
    group = await conn.fetchrow(BOARDS["group_of_board"], board_id, group_id)
    if group is None or group["archived"]:
        raise GroupClosed(group_id)


async def _locked_tree(conn: Connection, item_id: int) -> list[int]:
    """The item and its descendants, each locked. Read until it no longer changes: a subitem
    an import committed while this waited for its parent's lock is read, and locked, too."""
    ids: list[int] = []
    while True:
        found = [row["id"] for row in await conn.fetch(Q["item_tree"], item_id)]
        if found == ids:
            return ids
        ids = found


def _item_data(item: ItemRecord, **extra: Any) -> dict[str, Any]:
    return {"board_id": item.board_id, "group_id": item.group_id, "pulse_name": item.name, **extra}


class ItemStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def create_item(
        self,
        *,
        board_id: int,
        group_id: str,
        name: str,
        user_id: int,
        values: Sequence[ValueWrite],
        now: datetime,
    ) -> ItemRecord:
        """A new item at the end of the board with its values, logged as `create_pulse`."""
        document = _apply_writes({}, values)
        async with self.pool.acquire() as conn, conn.transaction():
            # the board's row lock, as every writer of new positions takes it first: an
            # import's chunk writing at the same time would give its items the same ones
            await _lock_open_group(conn, board_id, group_id)
            item = ItemRecord.from_row(
                await fetch_one(
                    conn, Q["insert_item"], board_id, group_id, name, user_id, now, document
                )
            )
            await self._log(conn, item, user_id, "create_pulse", _item_data(item), now)
        return item

    async def change_values(
        self,
        item_id: int,
        *,
        board_id: int,
        user_id: int,
        values: Sequence[ValueWrite],
        name: str | None,
        now: datetime,
    ) -> ItemRecord:
        """Write (or clear) column values and rename; log each change that changes something."""
        async with self.pool.acquire() as conn, conn.transaction():
            # the board's lock first, as an import's chunk takes it (then the items): a value
            # or name may be a match key, which a chunk reads once it holds that lock
            await conn.execute(BOARDS["share_board"], board_id)
            locked = await fetch_one(conn, Q["lock_item"], item_id)
            item = ItemRecord.from_row(locked)
            stored: Document = locked["column_values"]
            for write in values:
                previous = stored.get(write.column_id, {}).get("value")
                if previous != write.value:
                    data = _item_data(
                        item,
                        column_id=write.column_id,
                        column_type=write.column_type,
                        column_title=write.column_title,
                        value=write.value,
                        previous_value=previous,
                        textual_value=write.text,
                    )
                    await self._log(conn, item, user_id, "update_column_value", data, now)
            if name is not None and name != item.name:
                data = _item_data(item, value=name, previous_value=item.name)
                await self._log(conn, item, user_id, "update_name", data, now)
            document = _apply_writes(stored, values)
            row = await fetch_one(conn, Q["touch_item"], item_id, name, now, document)
        return ItemRecord.from_row(row)

    async def move_item(
        self, item: ItemRecord, group_id: str, *, user_id: int, now: datetime
    ) -> ItemRecord:
        """Move an item, with its sub-items, to another group of its board."""
        async with self.pool.acquire() as conn, conn.transaction():
            await _lock_open_group(conn, item.board_id, group_id)
            ids = await _locked_tree(conn, item.id)
            await conn.execute(Q["move_items"], ids, group_id, now)
            data = _item_data(item, source_group_id=item.group_id, dest_group_id=group_id)
            await self._log(conn, item, user_id, "move_pulse_into_group", data, now)
            row = await fetch_one(conn, Q["item_by_id"], item.id)
        return ItemRecord.from_row(row)

    async def set_item_state(
        self, item: ItemRecord, state: str, *, user_id: int, now: datetime
    ) -> ItemRecord:
        """Archive or delete an item with its sub-items (`archive_pulse`, `delete_pulse`)."""
        event = {"archived": "archive_pulse", "deleted": "delete_pulse"}[state]
        async with self.pool.acquire() as conn, conn.transaction():
            ids = await _locked_tree(conn, item.id)
            await conn.execute(Q["set_items_state"], ids, state, now)
            await self._log(conn, item, user_id, event, _item_data(item), now)
            row = await fetch_one(conn, Q["item_by_id"], item.id)
        return ItemRecord.from_row(row)

    async def copy_group_items(
        self,
        conn: Connection,
        board_id: int,
        source: str,
        target: str,
        *,
        user_id: int,
        now: datetime,
    ) -> None:
        """Copy a group's active items, values, tags and assignees into another group."""
        old_ids = [row["id"] for row in await conn.fetch(Q["group_items"], board_id, source)]
        if not old_ids:
            return
        new_ids = [row["id"] for row in await conn.fetch(Q["allocate_item_ids"], len(old_ids))]
        await conn.execute(Q["copy_items"], old_ids, new_ids, board_id, target, user_id, now)
        for query in ("copy_tags", "copy_assignees"):
            await conn.execute(Q[query], old_ids, new_ids)
        data = {"board_id": board_id, "group_id": target, "source_group_id": source}
        await conn.execute(Q["log_events"], board_id, user_id, "create_pulse", data, now, new_ids)

    async def create_update(
        self, item: ItemRecord, body: str, *, user_id: int, now: datetime
    ) -> UpdateRecord:
        row = await fetch_one(
            self.pool, Q["insert_update"], item.board_id, item.id, user_id, body, now
        )
        return UpdateRecord.from_row(row)

    async def update_of_account(self, account_id: int, update_id: int) -> UpdateRecord | None:
        row = await self.pool.fetchrow(Q["update_of_account"], account_id, update_id)
        return UpdateRecord.from_row(row) if row else None

    async def create_notification(
        self,
        *,
        account_id: int,
        user_id: int,
        sender_id: int,
        target_id: int,
        target_type: str,
        text: str,
        payload: Any,
        now: datetime,
    ) -> NotificationRecord:
        row = await fetch_one(
            self.pool, Q["insert_notification"],
            account_id, user_id, sender_id, target_id, target_type, text, payload, now,
        )  # fmt: skip
        return NotificationRecord.from_row(row)

    async def create_or_get_tag(
        self, account_id: int, board_id: int | None, name: str
    ) -> TagRecord:
        """The tag of that name (ignoring case): account-wide, or private to one board."""
        if board_id is None:
            row = await fetch_one(self.pool, Q["public_tag"], account_id, name)
        else:
            row = await fetch_one(self.pool, Q["board_tag"], account_id, board_id, name)
        return TagRecord.from_row(row)

    @staticmethod
    async def _log(
        conn: Connection,
        item: ItemRecord,
        user_id: int,
        event: str,
        data: dict[str, Any],
        now: datetime,
    ) -> None:
        await conn.execute(Q["log_event"], item.board_id, item.id, user_id, event, data, now)
