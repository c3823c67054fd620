"""Processing one claimed monday-style import job, from the uploaded object to COMPLETED.

Two passes over a local copy of the file: the scan validates every row (nothing written, so a
file that must be rejected leaves the board untouched), then the write pass re-reads it in
chunks of CHUNK_ROWS rows, each in one transaction with its checkpoint. CSV parsing and cell
validation run in a worker thread so the event loop keeps answering while a job runs.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from server import limits, sql
from server.db import Connection
from server.errors import StorageError
from server.imports import cells, csvfile
from server.imports.rows import ParsedRow, RowParser, errors_json
from server.imports.writer import ChunkTarget, PlannedRow, failed_result, write_chunk
from server.services import Services
from server.store import directory as directory_store
from server.store.jobs import Job, JobStore, RowResult, StaleAttempt
from server.store.records import EDIT_ROLES, Board

logger = logging.getLogger(__name__)
Q = sql.queries("imports")

MAX_FILE_BYTES = 150 * 1024 * 1024  # bytes, as monday documents
ROW_LIMITS = {"ingest": 10_000, "backfill": 20_000}  # data rows per file
CHUNK_ROWS = 1000  # rows per write transaction
BOARD_ITEM_LIMIT = 100_000  # active items a board may hold
MAX_RELATION_COLUMNS = 5  # board relation columns per file
REPORT_PREFIX = "reports/"
CLEAN = frozenset({"created", "updated"})


class Rejection(Exception):
    """The job is refused before anything is written: REJECTED with a failure reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Scan:
    header: csvfile.Header
    total: int = 0
    invalid: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    parent_of: dict[int, int] = field(default_factory=dict)  # MLS: line -> parent line

    @property
    def valid(self) -> int:
        return self.total - len(self.invalid)


@dataclass
class Plan:
    """What the job writes: the columns, the parser and how matched rows behave."""

    job: Job
    board: Board
    parser: RowParser
    scan: Scan
    behaviour: str | None  # UPSERT | SKIP | None (create only)
    match_column: str | None
    matches: dict[str, list[int | str]]  # key -> item ids, or "line:N" for rows this job creates


def scan_file(path: Path, parser_factory: Any, limit: int) -> tuple[Scan, RowParser]:
    """Validate the whole file; raise InvalidUpload or Rejection for a file that cannot go in."""
    records = csvfile.read_records(path)
    first = next(records, None)
    if first is None:
        raise csvfile.InvalidUpload("The file is empty: expected a header row starting with 'name'")
    parser: RowParser = parser_factory(first[1])
    scan = Scan(header=parser.header)
    # MLS: the latest valid row at each level, with whether it set rollup columns
    latest: dict[int, tuple[int, bool]] = {}
    for line, record in records:
        scan.total += 1
        if scan.total > limit:
            raise Rejection(
                "INVALID_UPLOAD",
                f"The file has more than {limit:,} data rows, the most one job accepts; split it",
            )
        parsed = parser.parse(line, record)
        if not isinstance(parsed, ParsedRow):
            scan.invalid[line] = errors_json(parsed)
            level = parser.level_of(record)
            if level is not None:  # its children must not find an earlier row instead
                _set_latest(latest, level, line, False)
            continue
        if parsed.level > 1:
            parent = latest.get(parsed.level - 1)
            if parent is None or parent[0] in scan.invalid:
                scan.invalid[line] = [
                    {"column_id": "name", "code": "MISSING_PARENT",
                     "message": f"No valid row at level {parsed.level - 1} comes before this one"}
                ]  # fmt: skip
                continue
            if parent[1]:
                scan.invalid[parent[0]] = [
                    {"column_id": "", "code": "ROLLUP_ON_PARENT",
                     "message": "A parent row may not set rollup columns; they are computed from its children"}
                ]  # fmt: skip
                scan.invalid[line] = [
                    {"column_id": "name", "code": "MISSING_PARENT",
                     "message": f"The parent row at line {parent[0]} is invalid"}
                ]  # fmt: skip
                continue
            scan.parent_of[line] = parent[0]
        _set_latest(latest, parsed.level, line, parser.sets_rollup(parsed))
    return scan, parser


def _set_latest(latest: dict[int, tuple[int, bool]], level: int, line: int, rollup: bool) -> None:
    """A row at `level` becomes the parent candidate there and ends every deeper branch."""
    latest[level] = (line, rollup)
    for deeper in [lv for lv in latest if lv > level]:
        del latest[deeper]


def plan_chunks(plan: Plan, path: Path, done: set[int]) -> Iterator[list[PlannedRow]]:
    """Valid rows re-parsed and matched, CHUNK_ROWS at a time; lines already written skipped."""
    chunk: list[PlannedRow] = []
    records = csvfile.read_records(path)
    next(records)  # header
    for line, record in records:
        if line in done:
            continue
        chunk.append(plan_row(plan, line, record))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def plan_row(plan: Plan, line: int, record: list[str]) -> PlannedRow:
    errors = plan.scan.invalid.get(line)
    if errors is not None:
        return PlannedRow(line=line, cells=record, status="invalid", errors=errors)
    parsed = plan.parser.parse(line, record)
    assert isinstance(parsed, ParsedRow)  # the scan saw this row valid
    row = PlannedRow(
        line=line,
        cells=record,
        status="created",
        name=parsed.name,
        level=parsed.level,
        parent_line=plan.scan.parent_of.get(line),
        values={
            c: (cell.value, cell.text)
            for c, cell in parsed.values.items()
            if cell.value is not None
        },
    )
    if plan.behaviour is None or plan.match_column is None:
        return row
    key = parsed.name if plan.match_column == "name" else _match_key(parsed, plan.match_column)
    found = plan.matches.get(key, []) if key else []
    if len(found) > 1:
        row.status = "invalid"
        row.errors = [
            {"column_id": plan.match_column, "code": "MULTIPLE_MATCHES",
             "message": f"{len(found)} items match {key!r}; nothing was changed"}
        ]  # fmt: skip
        return row
    if not found:
        if plan.behaviour == "UPDATE":  # Zoho's update mode never creates
            row.status = "skipped"
            row.values = {}
            return row
        if key:
            plan.matches[key] = [f"line:{line}"]
        return row
    if plan.behaviour == "SKIP":
        row.status = "skipped"
        row.values = {}
    else:
        row.status = "updated"
        row.clears = [c for c, cell in parsed.values.items() if cell.value is None]
    target = found[0]
    if isinstance(target, str):
        row.match_line = int(target.removeprefix("line:"))  # resolved at write time
    else:
        row.item_id = target
    return row


def _match_key(parsed: ParsedRow, column_id: str) -> str:
    cell = parsed.values.get(column_id)
    return cell.text if cell is not None and cell.value is not None else ""


async def process_job(services: Services, job: Job) -> None:
    """Run a claimed job to a terminal state; never raises for a bad file."""
    log = {"job_id": str(job.id), "action": "process"}
    with tempfile.TemporaryDirectory(prefix="import-") as tmp:
        try:
            await _process(services, job, Path(tmp))
        except Rejection as exc:
            await _finish(services, job, "REJECTED", reason=exc.reason, message=exc.message)
        except csvfile.InvalidUpload as exc:
            await _finish(services, job, "REJECTED", reason="INVALID_UPLOAD", message=exc.message)
        except StaleAttempt:
            logger.warning("job taken over by another runner", extra=log)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("job failed", extra=log)
            # driver and storage errors say what failed; anything else stays internal
            known = isinstance(
                exc, StorageError | OSError | asyncpg.PostgresError | asyncpg.InterfaceError
            )
            message = (
                f"{type(exc).__name__}: {exc}"
                if known
                else f"Internal error ({type(exc).__name__})"
            )
            await _finish(services, job, "FAILED", reason="INTERNAL_ERROR", message=message)


async def _finish(services: Services, job: Job, status: str, *, reason: str, message: str) -> None:
    counts = await _counts(services, job) if status == "FAILED" else dict(job.counts)
    with contextlib.suppress(asyncpg.PostgresError, OSError):
        await services.jobs.finish(
            job, status=status, counts=counts, progress=100 if status == "COMPLETED" else job.progress,
            now=services.clock.now(), failure_reason=reason, failure_message=message,
        )  # fmt: skip


async def _counts(services: Services, job: Job) -> dict[str, int]:
    try:
        return await JobStore.outcome_counts(services.pool, job.id, job.total_rows or 0)
    except (asyncpg.PostgresError, OSError):
        return dict(job.counts)


async def _process(services: Services, job: Job, tmp: Path) -> None:
    board = await _check_access(services, job)
    size = await services.storage.head(job.object_key)
    if size is None:
        raise Rejection("INVALID_UPLOAD", "No file was uploaded for this job")
    if size > MAX_FILE_BYTES:
        raise Rejection(
            "FILE_TOO_LARGE",
            f"The file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes (150 MB)",
        )
    path = tmp / "upload.csv"
    await download(services, job.object_key, path, job.options.get("character_encoding"))
    columns = {
        c.id: cells.Column(id=c.id, title=c.title, type=c.type, settings=c.settings)
        for c in (await services.boards.columns([board.id]))[board.id]
        if not c.archived
    }
    targets = sorted({int(b) for c in columns.values() for b in c.settings.get("board_ids", [])})
    directory = await directory_store.load_directory(services.pool, job.account_id, targets)
    behaviour = (job.options.get("on_match") or {}).get("behaviour")
    match_column = (job.options.get("on_match") or {}).get("match_column_id")

    def make_parser(header_cells: list[str]) -> RowParser:
        defaults: dict[int, str] = {}
        if job.options.get("field_mappings"):
            header, defaults = csvfile.header_from_mappings(
                header_cells,
                job.options["field_mappings"],
                {c: c for c in columns},
                board.hierarchy_levels,
            )
        else:
            header = csvfile.parse_header(
                header_cells, {c: c for c in columns}, board.hierarchy_levels
            )
        relation_columns = [
            c for c in header.column_of_index.values() if columns[c].type == "board_relation"
        ]
        if len(relation_columns) > MAX_RELATION_COLUMNS:
            raise csvfile.InvalidUpload(
                f"The file has {len(relation_columns)} board relation columns; at most {MAX_RELATION_COLUMNS} per import"
            )
        if (
            match_column
            and match_column != "name"
            and match_column not in header.column_of_index.values()
        ):
            raise csvfile.InvalidUpload(f"The match column {match_column!r} is not in the header")
        return RowParser(
            header, columns, directory, clear_with_null=behaviour in ("UPSERT", "UPDATE"),
            clear_empty=job.options.get("ignore_empty") is False, defaults=defaults,
        )  # fmt: skip

    scan, parser = await asyncio.to_thread(scan_file, path, make_parser, ROW_LIMITS[job.kind])
    await _check_capacity(services, job, board, scan)
    matches: dict[str, list[int | str]] = {}
    if behaviour and match_column:
        query = Q["match_by_name"] if match_column == "name" else Q["match_by_column"]
        args = (board.id,) if match_column == "name" else (board.id, match_column)
        for row in await services.pool.fetch(query, *args):
            matches.setdefault(row["key"], []).append(row["item_id"])
    plan = Plan(job=job, board=board, parser=parser, scan=scan, behaviour=behaviour,
                match_column=match_column, matches=matches)  # fmt: skip
    await _write(services, plan, path)
    await _complete(services, job, parser.header, scan.total, tmp)


async def download(services: Services, key: str, path: Path, encoding: str | None) -> None:
    """Copy the upload to a local file, as UTF-8: a named charset (Zoho's
    character_encoding) is transcoded on the way, in a streaming decoder."""
    decoder = None
    if encoding and codecs.lookup(encoding).name != "utf-8":
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with path.open("wb") as out:
        try:
            async for chunk in services.storage.read_chunks(key):
                data = chunk if decoder is None else decoder.decode(chunk).encode("utf-8")
                await asyncio.to_thread(out.write, data)
            if decoder is not None:
                out.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError as exc:
            raise csvfile.InvalidUpload(f"The file is not valid {encoding}: {exc.reason}") from exc


async def _check_access(services: Services, job: Job) -> Board:
    users = await services.accounts.users(job.account_id, [job.user_id])
    if not users or not users[0].enabled:
        raise Rejection(
            "AUTHORIZATION_FAILED", "The user who started the job can no longer authenticate"
        )
    user = users[0]
    board = await services.boards.board_for_user(user, str(job.board_id))
    if job.kind == "backfill" and not user.is_admin:
        raise Rejection("PERMISSION_DENIED", "Only admin users can perform this operation.")
    if board is None or board.role not in EDIT_ROLES | {"CLIENT"}:
        raise Rejection("PERMISSION_DENIED", "The user has no edit access to the board")
    return board


async def _check_capacity(services: Services, job: Job, board: Board, scan: Scan) -> None:
    if job.options.get("budget_taken") is not None:
        return  # a resumed job: already checked and charged on its first attempt
    active = int(await services.pool.fetchval(Q["active_item_count"], board.id))
    if active + scan.valid > BOARD_ITEM_LIMIT:
        raise Rejection(
            "BOARD_CAPACITY_EXCEEDED",
            f"The board holds {active:,} items; {scan.valid:,} more would pass its limit of {BOARD_ITEM_LIMIT:,}",
        )
    now = services.clock.now()
    dry_run = bool(job.options.get("dry_run"))
    async with services.pool.acquire() as conn, conn.transaction():
        if job.kind == "ingest":
            if dry_run:  # what would happen, without consuming the budget
                fits = await limits.items_left(conn, job.account_id, now) >= scan.valid
            else:
                fits = await limits.take_items(conn, job.account_id, scan.valid, now) is not None
            if not fits:
                available = await limits.items_left(conn, job.account_id, now)
                raise Rejection(
                    "ACCOUNT_CAPACITY_EXCEEDED",
                    f"The job has {scan.valid:,} valid rows but only {max(available, 0):,} of the "
                    f"{limits.ITEMS_PER_HOUR:,} items-per-hour budget are left",
                )
        await services.jobs.save_progress(
            conn, job, checkpoint_line=0, counts={**job.counts, "submitted": scan.total},
            progress=0, total_rows=scan.total,
            state={"budget_taken": scan.valid if job.kind == "ingest" and not dry_run else 0},
        )  # fmt: skip


@dataclass
class Progress:
    total: int
    processed: int

    @property
    def percent(self) -> int:
        return min(99, self.processed * 100 // max(self.total, 1))


async def _write(services: Services, plan: Plan, path: Path) -> None:
    job = plan.job
    done_rows = await services.pool.fetch(Q["done_lines"], job.id)
    created = {r["line"]: r["item_id"] for r in done_rows if r["item_id"] is not None}
    done = {r["line"] for r in done_rows}
    target = ChunkTarget(
        job=job, group_id=job.group_id, log_activity=job.kind == "ingest", created=created,
        next_position=int(await services.pool.fetchval(Q["next_position"], job.board_id)),
    )  # fmt: skip
    progress = Progress(total=plan.scan.total, processed=len(done))
    chunks = plan_chunks(plan, path, done)
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        if chunk is None:
            break
        if job.options.get("dry_run"):
            await _record_plan(services, target, chunk, progress)
            continue
        for segment in _segments(chunk):
            _resolve_same_file_matches(segment, target)
            await _write_chunk(services, target, segment, progress)


def _segments(chunk: list[PlannedRow]) -> Iterator[list[PlannedRow]]:
    """Split where a row updates an item created earlier in the same chunk: that item's id
    exists only once its own transaction has run."""
    segment: list[PlannedRow] = []
    lines: set[int] = set()
    for row in chunk:
        if row.match_line in lines:
            yield segment
            segment, lines = [], set()
        segment.append(row)
        lines.add(row.line)
    if segment:
        yield segment


def _resolve_same_file_matches(chunk: list[PlannedRow], target: ChunkTarget) -> None:
    """A row matching an item an earlier row of the same file created updates that item."""
    for row in chunk:
        if row.match_line is not None:
            row.item_id = target.created.get(row.match_line)
            if row.item_id is None:  # the earlier row failed: create instead
                row.status = "created"


async def _checkpoint(
    services: Services, conn: Connection, job: Job, progress: Progress, rows: list[PlannedRow]
) -> None:
    """In the rows' own transaction: counts and checkpoint, fenced by the attempt number."""
    done = Progress(total=progress.total, processed=progress.processed + len(rows))
    counts = await JobStore.outcome_counts(conn, job.id, progress.total)
    await services.jobs.save_progress(
        conn, job, checkpoint_line=rows[-1].line, counts=counts, progress=done.percent,
        total_rows=progress.total, state={},
    )  # fmt: skip


async def _record_plan(
    services: Services, target: ChunkTarget, chunk: list[PlannedRow], progress: Progress
) -> None:
    """A dry run: every row's would-be outcome goes to the report; the board is not touched."""
    results = [
        RowResult(line=r.line, status=r.status, item_id=r.item_id, errors=r.errors, cells=r.cells)
        for r in chunk
    ]
    async with services.pool.acquire() as conn, conn.transaction():
        await services.jobs.insert_row_results(conn, target.job, results)
        await _checkpoint(services, conn, target.job, progress, chunk)
    progress.processed += len(chunk)


async def _write_chunk(
    services: Services, target: ChunkTarget, chunk: list[PlannedRow], progress: Progress
) -> None:
    now = services.clock.now()
    try:
        async with services.pool.acquire() as conn, conn.transaction():
            await write_chunk(conn, target, chunk, now)
            await _checkpoint(services, conn, target.job, progress, chunk)
        progress.processed += len(chunk)
        return
    except asyncpg.UniqueViolationError as exc:
        # a (job, line) result exists already: another runner wrote these rows
        raise StaleAttempt(str(target.job.id)) from exc
    except asyncpg.PostgresError as exc:
        logger.warning(
            "chunk refused, retrying row by row",
            extra={"job_id": str(target.job.id), "action": "write_chunk", "error": str(exc)},
        )
    for row in chunk:
        if row.status == "created":
            row.item_id = None
            target.created.pop(row.line, None)
    for row in chunk:
        try:
            async with services.pool.acquire() as conn, conn.transaction():
                await write_chunk(conn, target, [row], now)
                await _checkpoint(services, conn, target.job, progress, [row])
        except asyncpg.UniqueViolationError as exc:
            raise StaleAttempt(str(target.job.id)) from exc
        except asyncpg.PostgresError as exc:
            # the row's item was rolled back: a later row repeating its key must create it
            target.created.pop(row.line, None)
            row.item_id = None
            async with services.pool.acquire() as conn, conn.transaction():
                await services.jobs.insert_row_results(conn, target.job, [failed_result(row, exc)])
                await _checkpoint(services, conn, target.job, progress, [row])
        progress.processed += 1


async def _complete(
    services: Services, job: Job, header: csvfile.Header, total: int, tmp: Path
) -> None:
    counts = await JobStore.outcome_counts(services.pool, job.id, total)
    every_row = job.options.get("report") == "ALL_ROWS" or job.options.get("dry_run")
    report_rows = [
        r for r in await services.jobs.row_results(job.id) if every_row or r.status not in CLEAN
    ]
    report_key = None
    if report_rows:
        report_path = tmp / "report.csv"
        await asyncio.to_thread(write_report, report_path, header.names, report_rows)
        report_key = f"{REPORT_PREFIX}{job.id}.csv"
        await services.storage.put_file(report_key, str(report_path))
    await services.jobs.finish(
        job, status="COMPLETED", counts=counts, progress=100, now=services.clock.now(),
        report_key=report_key, total_rows=total,
    )  # fmt: skip


def write_report(path: Path, header: list[str], rows: list[RowResult]) -> None:
    """The rows' own cells, then where and why: fix them in place and upload the file again."""
    width = len(header)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*header, *csvfile.REPORT_COLUMNS])
        for row in rows:
            cells_ = (list(row.cells) + [""] * width)[:width]
            errors = "; ".join(
                f"{e['column_id'] or 'row'}: {e['code']}: {e['message']}" for e in row.errors
            )
            writer.writerow([*cells_, row.line, row.status, row.item_id or "", errors])
