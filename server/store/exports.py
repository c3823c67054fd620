"""Blue exports: the per-user export window, the records an export streams, and the outbox."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from server import batching, sql
from server.db import Connection, Pool
from server.store.records import Row, from_row

Q = sql.queries("exports")


@dataclass(frozen=True, kw_only=True)
class RecordFilter:
    """Which records an export writes; None, or an empty tuple but for assignee_ids, leaves
    that criterion out."""

    list_ids: tuple[str, ...] = ()
    list_titles: tuple[str, ...] = ()  # matched ignoring case
    tag_names: tuple[str, ...] = ()  # matched ignoring case; a record needs any one of them
    # a record needs any one of them; empty when every id asked for was too large to be a
    # user's, so no record matches
    assignee_ids: tuple[int, ...] | None = None
    done: bool | None = None
    due_from: datetime | None = None  # inclusive
    due_to: datetime | None = None  # inclusive

    def arguments(self) -> list[Any]:
        """The filter parameters ($2..$8) of the `records` query."""
        return [
            list(self.list_ids) or None,
            [title.lower() for title in self.list_titles] or None,
            [name.lower() for name in self.tag_names] or None,
            None if self.assignee_ids is None else list(self.assignee_ids),
            self.done,
            self.due_from,
            self.due_to,
        ]


@dataclass(frozen=True, kw_only=True)
class ExportSlot:
    """The recorded request (its id), or how long the user must wait for one."""

    request_id: int | None = None
    wait: timedelta | None = None


@dataclass(frozen=True, kw_only=True)
class ExportRecord:
    """One record as an export row shows it; people are e-mail addresses (names without one)."""

    id: int
    name: str
    list: str
    done: bool
    start_date: datetime | None
    due_date: datetime | None
    description: str | None
    color: str | None
    created_at: datetime
    updated_at: datetime
    creator: str | None
    assignees: tuple[str, ...]
    tags: tuple[str, ...]
    values: dict[str, Any]  # column id -> stored value
    values_bytes: int  # the size of the stored values' JSON text

    @property
    def weight(self) -> int:
        """Roughly the bytes the record takes, to bound a batch by its size."""
        texts = (self.name, self.description or "", *self.tags, *self.assignees)
        return sum(map(len, texts)) + self.values_bytes

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(
            cls,
            row,
            assignees=tuple(row["assignees"]),
            tags=tuple(row["tags"]),
            values=row["custom_values"],
        )


@dataclass(frozen=True, kw_only=True)
class Batch:
    records: list[ExportRecord]
    total: int  # records matching the filter in the whole export


@dataclass(frozen=True, kw_only=True)
class OutboxMessage:
    to: str
    subject: str
    body: str
    links: list[str]
    sent_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return cls(
            to=row["recipient"],
            subject=row["subject"],
            body=row["body"],
            links=row["links"],
            sent_at=row["sent_at"],
        )


class ExportStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def take_export_slot(
        self, user_id: int, board_id: int, now: datetime, window: timedelta
    ) -> ExportSlot:
        """Record an export request, or say how long the user must still wait."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self.share_data(conn, wait=True)
            await conn.execute(Q["lock_user_exports"], user_id)
            latest: datetime | None = await conn.fetchval(
                Q["latest_export_request"], user_id, now - window, now
            )
            if latest is not None:
                return ExportSlot(wait=latest + window - now)
            request_id = await conn.fetchval(Q["record_export_request"], user_id, board_id, now)
            return ExportSlot(request_id=request_id)

    @staticmethod
    async def share_data(conn: Connection, *, wait: bool) -> bool:
        """Take the data lock shared, for the transaction: an admin reset takes it alone. With
        `wait`, once no reset runs (True); without, False at once if a reset runs or waits."""
        if wait:
            await conn.execute(Q["share_data"])
            return True
        return bool(await conn.fetchval(Q["try_share_data"]))

    @staticmethod
    async def request_exists(conn: Connection, request_id: int) -> bool:
        """Whether the export request is still there (an admin reset removes it)."""
        return bool(await conn.fetchval(Q["export_request_exists"], request_id))

    async def record_batches(
        self, board_id: int, record_filter: RecordFilter, max_rows: int, max_bytes: int
    ) -> AsyncGenerator[Batch, None]:
        """The matching records in batches, from one consistent snapshot of the workspace. A
        batch starts at one record and doubles up to `max_rows` while its records weigh less
        than half `max_bytes` (500 records of 200 KB descriptions were 100 MB fetched, decoded
        and written at once); batches never straddle a multiple of `max_rows` records, where
        the export reports its progress."""
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            # held to the end of the read: a reset waits for it (the export lets go as soon as
            # it sees one waiting, see `share_data`)
            await self.share_data(conn, wait=True)
            cursor = await conn.cursor(Q["records"], board_id, *record_filter.arguments())
            size, fetched = 1, 0
            while rows := await cursor.fetch(size):
                records = [ExportRecord.from_row(row) for row in rows]
                yield Batch(records=records, total=rows[0]["total"])
                fetched += len(rows)
                size = min(
                    batching.next_size(size, sum(r.weight for r in records), max_rows, max_bytes),
                    max_rows - fetched % max_rows,
                )

    async def send_message(
        self,
        *,
        account_id: int,
        to: str,
        subject: str,
        body: str,
        links: Sequence[str],
        now: datetime,
        conn: Connection | None = None,
    ) -> None:
        """Keep the e-mail this server would send (it sends none) for the admin outbox."""
        # in the caller's transaction when given: an export sends its mail with its last event
        await (conn or self.pool).execute(
            Q["send_message"], account_id, to, subject, body, list(links), now
        )

    async def outbox(self) -> list[OutboxMessage]:
        """Every kept message, oldest first."""
        return [OutboxMessage.from_row(row) for row in await self.pool.fetch(Q["outbox"])]
