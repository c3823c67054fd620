"""Writing one chunk of validated rows: set-based statements, one transaction per chunk.

If the database refuses a chunk, it is rolled back and its rows are written one by one, so
only the offending rows end up `failed`. Every row's outcome is stored with its (job, line)
key in the same transaction as its item, so a resumed job never writes a row twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson

from server import sql
from server.db import Connection
from server.imports import copyformat, transfer
from server.imports.matchkeys import KeyChanges, KeysChanged
from server.imports.rows import MISSING_NAME
from server.store import items as item_store
from server.store.jobs import CLEAN, Job, JobStore, RowResult

logger = logging.getLogger(__name__)
T = TypeVar("T")
Q = sql.queries("imports")
BOARDS = sql.queries("boards")

ITEM_COLUMNS = [
    "id", "board_id", "group_id", "parent_id", "level", "name", "position", "creator_id",
    "created_at", "updated_at", "column_values",
]  # fmt: skip


@transfer.by_fields
@dataclass
class PlannedRow:
    """A row the chunk will write, or only report."""

    line: int
    cells: list[str]
    status: str  # created | updated | skipped | invalid
    name: str = ""
    level: int = 1
    parent_line: int | None = None
    item_id: int | None = None  # the matched item, for updates
    match_line: int | None = None  # matched an item an earlier row of this file creates
    parent_id: int | None = None  # a subitem's parent, known before the write
    # a created or updated row's values as a JSON document, encoded in the parsing worker;
    # None for a row that writes nothing
    document: bytes | None = None
    clears: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)  # an update's columns with a value
    errors: list[dict[str, str]] = field(default_factory=list)
    # a row matched by a key (a column's text or the name): the key, and what it matched as
    # the worker planned it (item ids, or "line:N" for the item an earlier row creates), for
    # the writer to match it again should other writers change who holds that key (`matchkeys`)
    key: str | None = None
    matched: list[int | str] = field(default_factory=list)


@dataclass
class EncodedChunk:
    """A chunk of a create-only job as the parsing worker encoded it: the created rows' lines
    and COPY tails (`copyformat`), and the rows that create nothing (invalid ones)."""

    lines: list[int]
    tails: list[bytes]
    others: list[PlannedRow]
    last_line: int


def keeps_cells(options: Mapping[str, Any]) -> bool:
    """Whether a job's report lists clean rows with their cells too (ALL_ROWS, dry runs) or
    a subitems file joins on them."""
    return bool(
        options.get("report") == "ALL_ROWS" or options.get("dry_run") or options.get("subitems")
    )


class TargetClosed(Exception):
    """The job's board was deleted, or its group deleted or archived, while the job ran: the
    rows written before stay (closed with their group or board), no more are written."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(kw_only=True)
class ChunkTarget:
    job: Job
    group_id: str
    log_activity: bool
    # line -> item id of rows already created (MLS parents); filled in as rows are created
    created: dict[int, int]
    keep_cells: bool = False
    next_position: int = 0  # read again by each chunk, under the board's row lock
    keys: KeyChanges | None = None  # a job matching rows by key: its keys, kept current
    # seconds the next COPY of items pauses once begun, before its data (an injected fault)
    copy_pause: float = 0.0


async def lock_target(conn: Connection, target: ChunkTarget) -> None:
    """In the chunk's transaction, before it writes: take the board's row lock and read where
    the chunk's items go. A group closed or a board deleted while the job ran would otherwise
    take items the client no longer sees (they were read once, when the job started), and
    positions read once collide with those other writers took since."""
    job = target.job
    await JobStore.fence(conn, job)
    await conn.execute(BOARDS["lock_board"], job.board_id)
    row = await conn.fetchrow(Q["write_target"], job.board_id, target.group_id)
    if row is None or row["board_state"] == "deleted":
        raise TargetClosed(
            "PERMISSION_DENIED", f"Board {job.board_id} was deleted while the job ran"
        )
    if row["deleted"] is not False or row["archived"]:
        closed = "archived" if row["deleted"] is False else "deleted"
        raise TargetClosed(
            "INVALID_UPLOAD",
            f"Group {target.group_id!r} was {closed} while the job ran and takes no more items; "
            "the rows written before it closed stay with it",
        )
    target.next_position = int(row["next_position"])
    if target.keys is not None:
        await target.keys.refresh(conn, job.board_id)


async def write_chunk(
    conn: Connection, target: ChunkTarget, rows: Sequence[PlannedRow], now: datetime
) -> list[RowResult]:
    """Write the rows in the caller's transaction; return their results."""
    await lock_target(conn, target)
    return await _write_rows(conn, target, rows, now, _Copied())


async def write_encoded_chunk(
    conn: Connection, target: ChunkTarget, chunk: EncodedChunk, now: datetime
) -> list[RowResult]:
    """Write an encoded chunk in the caller's transaction: its created rows by one binary COPY,
    then its other rows as planned (an update of an item created earlier in the file finds
    it in `target.created`). Return the results of the other rows: the created ones are
    stored as one row of arrays, and only counted. KeysChanged, before anything is written,
    where another writer's item holds a key the chunk's new items have."""
    await lock_target(conn, target)
    if target.keys is not None and target.keys.claimed_by_any(chunk.tails):
        raise KeysChanged
    copied = _Copied()
    if chunk.lines:
        ids = [rec["id"] for rec in await conn.fetch(Q["allocate_item_ids"], len(chunk.lines))]
        data = copyformat.copy_data(ids, target.next_position, now, chunk.tails)
        await conn.copy_to_table(
            "items", source=_once(data, _take_pause(target)), columns=copyformat.COLUMNS,
            format="binary",
        )  # fmt: skip
        target.next_position += len(ids)
        copied = _Copied(lines=chunk.lines, ids=ids)
        target.created.update(zip(chunk.lines, ids, strict=True))  # for rows matching them
    return await _write_rows(conn, target, chunk.others, now, copied)


@dataclass(frozen=True)
class _Copied:
    """Items a chunk created by binary COPY: their lines and ids."""

    lines: Sequence[int] = ()
    ids: Sequence[int] = ()


async def _write_rows(
    conn: Connection,
    target: ChunkTarget,
    rows: Sequence[PlannedRow],
    now: datetime,
    copied: _Copied,
) -> list[RowResult]:
    """`rows` written after the items `copied` (logged and stored with them); their results."""
    job = target.job
    waiting = target.keys.resolve(rows, target.created) if target.keys is not None else []
    waiting += _resolve_same_file_matches(rows, target)
    await _fail_closed_parents(conn, rows, target)
    _fail_orphans(rows, target)
    creates = [r for r in rows if r.status == "created"]
    updates = [r for r in rows if r.status == "updated"]
    if creates:
        ids = [rec["id"] for rec in await conn.fetch(Q["allocate_item_ids"], len(creates))]
        for row, item_id in zip(creates, ids, strict=True):
            row.item_id = item_id
            target.created[row.line] = item_id
            if row.match_line is not None:  # created in place of a failed row: stands for it
                target.created[row.match_line] = item_id
        for row, creator in waiting:
            row.item_id = creator.item_id
        positions = range(target.next_position, target.next_position + len(creates))
        # COPY: new rows with ids allocated above, so nothing can conflict
        records = [
            (item_id, job.board_id, target.group_id,
             r.parent_id or (target.created.get(r.parent_line) if r.parent_line else None),
             r.level, r.name, position, job.user_id, now, now,
             r.document)
            for r, item_id, position in zip(creates, ids, positions, strict=True)
        ]  # fmt: skip
        pause = _take_pause(target)
        await conn.copy_records_to_table(
            "items", columns=ITEM_COLUMNS, records=_paused(records, pause) if pause else records
        )
        target.next_position += len(creates)
    if updates:
        changes = _item_changes(updates)
        written = await conn.fetch(
            Q["update_items"],
            now,
            list(changes),
            [change.name for change in changes.values()],
            [change.sets for change in changes.values()],
            [change.clears for change in changes.values()],
            [change.keys for change in changes.values()],
        )
        updates = _fail_gone(updates, {record["id"] for record in written})
    if target.log_activity and (copied.ids or creates or updates):
        changed = creates + updates
        await conn.execute(
            Q["log_activity"],
            job.board_id,
            job.user_id,
            now,
            [*copied.ids, *(r.item_id for r in changed)],
            ["create_pulse"] * len(copied.ids)
            + [
                "create_pulse" if r.status == "created" else "update_column_values" for r in changed
            ],
        )
    results = [
        RowResult(
            line=r.line, status=r.status, item_id=r.item_id, errors=r.errors,
            # a clean row's cells are kept only where a report or a subitems join needs them
            cells=r.cells if target.keep_cells or r.status not in CLEAN else [],
        )
        for r in rows
    ]  # fmt: skip
    await JobStore.insert_row_results(conn, job, results, created=(copied.lines, copied.ids))
    return results


def _resolve_same_file_matches(
    rows: Sequence[PlannedRow], target: ChunkTarget
) -> list[tuple[PlannedRow, PlannedRow]]:
    """A row matching an item an earlier row of the file created updates (or skips) that
    item. Where that row failed, the first row repeating its key creates the item instead,
    and the later ones match the item it creates: returned as (row, creating row) pairs."""
    creating: dict[int, PlannedRow] = {}
    waiting: list[tuple[PlannedRow, PlannedRow]] = []
    for row in rows:
        if row.match_line is None:
            continue
        row.item_id = target.created.get(row.match_line)
        if row.item_id is not None:
            continue
        creator = creating.get(row.match_line)
        if creator is not None:
            waiting.append((row, creator))
        elif not row.name:  # a matched row may leave its name empty, a creating one not
            row.status, row.document, row.errors = "invalid", None, [MISSING_NAME.as_json()]
        else:
            creating[row.match_line] = row
            row.status = "created"
    return waiting


def forget_encoded(target: ChunkTarget, chunk: EncodedChunk) -> None:
    """`write_encoded_chunk`'s transaction was rolled back: neither its copied items nor those
    its other rows created exist."""
    for line in chunk.lines:
        target.created.pop(line, None)
    forget_created(target, chunk.others)


def forget_created(target: ChunkTarget, rows: Sequence[PlannedRow]) -> None:
    """The rows' transaction was rolled back: the items it created do not exist."""
    for row in rows:
        if row.status == "created":
            row.item_id = None
            target.created.pop(row.line, None)
            if row.match_line is not None:
                target.created.pop(row.match_line, None)


async def _once(data: bytes, pause: float = 0.0) -> AsyncIterator[bytes]:
    if pause:
        await asyncio.sleep(pause)  # the COPY has begun: its backend waits for the data
    yield data


async def _paused(records: Sequence[T], pause: float) -> AsyncIterator[T]:
    await asyncio.sleep(pause)  # the COPY has begun: its backend waits for the data
    for record in records:
        yield record


def _take_pause(target: ChunkTarget) -> float:
    """The pause an injected fault asks of the job's next COPY of items (only that one)."""
    pause, target.copy_pause = target.copy_pause, 0.0
    return pause


@dataclass(kw_only=True)
class _ItemChange:
    """What the update rows of one chunk do to one matched item, as the JSON texts that
    `update_items` takes."""

    name: str  # "": the item keeps its name
    sets: str  # column id -> {value, text}
    clears: str  # column ids
    keys: str | None  # the columns of `sets`, each between KEY_SEPARATORs; None: merge


KEY_SEPARATOR = "\x1f"  # chr(31) in `update_items`; a column id holding it is merged


def _keys(columns: Collection[str]) -> str | None:
    """`update_items`'s list of the columns a new document sets."""
    listed = KEY_SEPARATOR.join(columns)
    if listed.count(KEY_SEPARATOR) > max(len(columns) - 1, 0):  # in a column id
        return None
    return f"{KEY_SEPARATOR}{listed}{KEY_SEPARATOR}"


def _item_changes(updates: Sequence[PlannedRow]) -> dict[int, _ItemChange]:
    """Item id -> its change. Rows that update the same item apply in file order and the
    last name given wins (an empty one keeps the item's): one UPDATE applies only one joined
    row to each item."""
    rows_of: dict[int, list[PlannedRow]] = {}
    for row in updates:
        assert row.item_id is not None  # resolved before the write
        rows_of.setdefault(row.item_id, []).append(row)
    changes: dict[int, _ItemChange] = {}
    for item_id, rows in rows_of.items():
        last = rows[-1]
        if len(rows) == 1 and last.document is not None:  # the usual case: taken as encoded
            sets, clears = last.document.decode(), orjson.dumps(sorted(last.clears)).decode()
            keys = _keys(last.sets)
        else:
            merged, cleared = _merge(rows)
            sets, clears = orjson.dumps(merged).decode(), orjson.dumps(sorted(cleared)).decode()
            keys = _keys(merged)
        name = next((row.name for row in reversed(rows) if row.name), "")
        changes[item_id] = _ItemChange(name=name, sets=sets, clears=clears, keys=keys)
    return changes


def _merge(rows: Sequence[PlannedRow]) -> tuple[item_store.Document, set[str]]:
    """The values several rows set on one item, in file order, and the columns left cleared."""
    sets: item_store.Document = {}
    clears: set[str] = set()
    for row in rows:
        for column in row.clears:
            sets.pop(column, None)
            clears.add(column)
        assert row.document is not None  # an update is planned with its values
        for column, entry in orjson.loads(row.document).items():
            sets[column] = entry
            clears.discard(column)
    return sets, clears


async def _fail_closed_parents(
    conn: Connection, rows: Sequence[PlannedRow], target: ChunkTarget
) -> None:
    """Lock the items this chunk's new subitems go under (their parents written before the
    chunk); a row whose parent was deleted or archived while the job ran fails, as would a
    subitem written under it: a deleted item's tree is read when it is deleted."""
    parent_of: dict[int, int] = {}
    for row in rows:
        if row.status != "created":
            continue
        parent = row.parent_id
        if parent is None and row.parent_line is not None:
            parent = target.created.get(row.parent_line)  # None: created by this chunk
        if parent is not None:
            parent_of[row.line] = parent
    if not parent_of:
        return
    live = {
        r["id"] for r in await conn.fetch(Q["lock_live_parents"], sorted(set(parent_of.values())))
    }
    for row in rows:
        parent = parent_of.get(row.line)
        if parent is not None and parent not in live:
            row.status, row.document = "failed", None
            row.errors = [
                {"column_id": "name", "code": "PARENT_GONE",
                 "message": f"The parent item {parent} was deleted or archived while the job ran"}
            ]  # fmt: skip


def _fail_orphans(rows: Sequence[PlannedRow], target: ChunkTarget) -> None:
    """A row whose parent row was not created (the database refused it) cannot be created."""
    known = set(target.created)
    for row in rows:
        if row.status != "created":
            continue
        if row.parent_line is not None and row.parent_line not in known:
            row.status = "failed"
            row.errors = [
                {"column_id": "name", "code": "PARENT_NOT_CREATED",
                 "message": f"The parent row at line {row.parent_line} could not be created"}
            ]  # fmt: skip
        else:
            known.add(row.line)


def _fail_gone(updates: Sequence[PlannedRow], written: set[int]) -> list[PlannedRow]:
    """The update rows whose item was written. The others matched an item that was deleted
    or archived while the job ran: it keeps its values, and the row is reported failed with
    its cells, to be sent again."""
    for row in updates:
        if row.item_id not in written:
            row.errors = [
                {"column_id": "", "code": "ITEM_GONE",
                 "message": f"The matched item {row.item_id} was deleted or archived while the "
                            "job ran; the row was not written"}
            ]  # fmt: skip
            row.status, row.item_id = "failed", None
    return [row for row in updates if row.status == "updated"]


def failed_result(row: PlannedRow, exc: Exception) -> RowResult:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return RowResult(
        line=row.line,
        status="failed",
        item_id=None,
        errors=[{"column_id": "", "code": "DATABASE_REFUSED", "message": message}],
        cells=row.cells,
    )
