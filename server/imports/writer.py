"""Writing one chunk of validated rows: set-based statements, one transaction per chunk.

If the database refuses a chunk, it is rolled back and its rows are written one by one, so
only the offending rows end up `failed`. Every row's outcome is stored with its (job, line)
key in the same transaction as its item, so a resumed job never writes a row twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from server import sql
from server.db import Connection
from server.store.jobs import Job, JobStore, RowResult

logger = logging.getLogger(__name__)
Q = sql.queries("imports")


CLEAN = frozenset({"created", "updated"})
ITEM_COLUMNS = [
    "id", "board_id", "group_id", "parent_id", "level", "name", "position", "creator_id",
    "created_at", "updated_at",
]  # fmt: skip
VALUE_COLUMNS = ["item_id", "column_id", "value", "text"]


async def copy_values(conn: Connection, rows: list[tuple[Any, str, Any, str]]) -> None:
    """Column values of items created in this transaction, by COPY."""
    if rows:
        await conn.copy_records_to_table("column_values", columns=VALUE_COLUMNS, records=rows)


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
    values: dict[str, tuple[Any, str]] = field(default_factory=dict)  # column -> (value, text)
    clears: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass(kw_only=True)
class ChunkTarget:
    job: Job
    group_id: str
    log_activity: bool
    # line -> item id of rows already created (MLS parents); filled in as rows are created
    created: dict[int, int]
    next_position: int
    keep_cells: bool = False


async def write_chunk(
    conn: Connection, target: ChunkTarget, rows: Sequence[PlannedRow], now: datetime
) -> list[RowResult]:
    """Write the rows in the caller's transaction; return their results."""
    job = target.job
    _fail_orphans(rows, target)
    creates = [r for r in rows if r.status == "created"]
    updates = [r for r in rows if r.status == "updated"]
    if creates:
        ids = [rec["id"] for rec in await conn.fetch(Q["allocate_item_ids"], len(creates))]
        for row, item_id in zip(creates, ids, strict=True):
            row.item_id = item_id
            target.created[row.line] = item_id
        positions = range(target.next_position, target.next_position + len(creates))
        # COPY: new rows with ids allocated above, so nothing can conflict
        await conn.copy_records_to_table(
            "items",
            columns=ITEM_COLUMNS,
            records=[
                (item_id, job.board_id, target.group_id,
                 r.parent_id or (target.created.get(r.parent_line) if r.parent_line else None),
                 r.level, r.name, position, job.user_id, now, now)
                for r, item_id, position in zip(creates, ids, positions, strict=True)
            ],
        )  # fmt: skip
        await copy_values(
            conn, [(r.item_id, c, v, t) for r in creates for c, (v, t) in r.values.items()]
        )
    if updates:
        await conn.execute(
            Q["rename_items"], now, [r.item_id for r in updates], [r.name for r in updates]
        )
    value_rows = [(r.item_id, c, v, t) for r in updates for c, (v, t) in r.values.items()]
    if value_rows:
        await conn.execute(
            Q["upsert_values"],
            [v[0] for v in value_rows],
            [v[1] for v in value_rows],
            [orjson.dumps(v[2]).decode() for v in value_rows],
            [v[3] for v in value_rows],
        )
    clear_rows = [(r.item_id, c) for r in updates for c in r.clears]
    if clear_rows:
        await conn.execute(
            Q["clear_values"], [c[0] for c in clear_rows], [c[1] for c in clear_rows]
        )
    if target.log_activity and (creates or updates):
        changed = creates + updates
        await conn.execute(
            Q["log_activity"],
            job.board_id,
            job.user_id,
            now,
            [r.item_id for r in changed],
            ["create_pulse" if r.status == "created" else "update_column_values" for r in changed],
        )
    results = [
        RowResult(
            line=r.line, status=r.status, item_id=r.item_id, errors=r.errors,
            # a clean row's cells are kept only where a report or a subitems join needs them
            cells=r.cells if target.keep_cells or r.status not in CLEAN else [],
        )
        for r in rows
    ]  # fmt: skip
    await JobStore.insert_row_results(conn, job, results)
    target.next_position += len(creates)
    return results


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


def failed_result(row: PlannedRow, exc: Exception) -> RowResult:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return RowResult(
        line=row.line,
        status="failed",
        item_id=None,
        errors=[{"column_id": "", "code": "DATABASE_REFUSED", "message": message}],
        cells=row.cells,
    )
