"""Processing a Blue-style import (importTodos): records with Blue's fields and custom fields.

`headers` maps the file's columns by position. The file's first row is skipped when it
repeats those headers (as the exported template does) and imported as data otherwise. A
header that is neither recognised nor the title of a custom field is ignored and listed in
the import report; a row with a bad cell is not imported and is listed with its line, column
and reason. Each chunk is one transaction: if the database refuses it, the whole chunk is
rolled back, earlier chunks stay, and the import ends with status ERROR.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import itertools
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from server import diskfull, errors, events, faults, scratch, sql
from server.db import Connection
from server.imports import blue_fields as bf
from server.imports import cells, csvfile, planning, processing, transfer, worker
from server.imports.rows import encode_document
from server.services import Services
from server.store import directory as directory_store
from server.store.boards import BoardStore
from server.store.jobs import Job, JobStore, RowResult, StaleAttempt
from server.store.records import Board, User

logger = logging.getLogger(__name__)
Q = sql.queries("imports")
BOARDS = sql.queries("boards")
GONE_MESSAGE = "The workspace or the user is gone"

CHUNK_ROWS = 500  # records per transaction
RECORD_COLUMNS = [
    "id", "board_id", "group_id", "name", "position", "creator_id", "created_at", "updated_at",
    "done", "start_date", "due_date", "description", "color", "column_values",
]  # fmt: skip
# Item-tag and item-assignee pairs per statement: the arrays are built and encoded on the
# event loop, and a chunk's million pairs (500 records of 2,000 tags) held it 1 s at once.
PAIRS_AT_ONCE = 20_000
TODO_IMPORT_LIMIT = 2_500  # records per file for accounts not on the enterprise plan
NUMBERED_LIST_IDS = 100  # list ids tried with a number before a random suffix
EVENT_STATUS = {"FAILED": "ERROR", "CANCELLED": "CANCELLED"}  # a job's end, as events name it


class CancelledImport(Exception):
    """cancelTodoImport was recorded: the chunk that sees it writes nothing."""


class WorkspaceGone(Exception):
    """The workspace was deleted while the import ran: no more records are written."""


@dataclass(frozen=True)
class HeaderMap:
    fields: dict[int, str]  # cell index -> recognised field name
    columns: dict[int, cells.Column]  # cell index -> custom field
    currency_types: set[int]  # cell indexes of "Currency Types" columns
    unknown: list[str]  # headers that matched nothing (ignored)
    headers: list[str]


@transfer.by_fields
@dataclass
class Record:
    line: int
    raw: list[str]
    name: str = ""
    list_title: str | None = None
    done: bool = False
    start_date: dt.datetime | None = None
    due_date: dt.datetime | None = None
    description: str | None = None
    color: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    creator_id: int | None = None
    assignee_ids: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    values: dict[str, cells.Cell] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    # the values as the item's JSON document, encoded in the parsing worker (`values` is then
    # empty)
    document: bytes = b"{}"


def map_headers(headers: list[str], columns: list[cells.Column]) -> HeaderMap:
    by_title: dict[str, cells.Column] = {}
    for (
        column
    ) in columns:  # by position: the first of two same-titled fields wins, as in the template
        by_title.setdefault(column.title.strip().lower(), column)
    fields: dict[int, str] = {}
    custom: dict[int, cells.Column] = {}
    currency: set[int] = set()
    unknown: list[str] = []
    for index, header in enumerate(headers):
        key = _header_key(header, by_title)
        if key in bf.RECOGNISED_LOWER:
            fields[index] = bf.RECOGNISED_LOWER[key]
        elif key == bf.CURRENCY_TYPES.lower():
            currency.add(index)
        elif key in by_title:
            custom[index] = by_title[key]
        elif key:
            unknown.append(header)
    return HeaderMap(
        fields=fields, columns=custom, currency_types=currency, unknown=unknown, headers=headers
    )


def _header_key(header: str, by_title: Mapping[str, cells.Column]) -> str:
    """The header as a name to match: the template and exports write a title that starts
    with a formula trigger with a leading quote, and a client passes that header row as
    `headers`. A header naming a field as it is (quote included) keeps that field."""
    key = header.strip().lower()
    if key in bf.RECOGNISED_LOWER or key in by_title or key == bf.CURRENCY_TYPES.lower():
        return key
    return bf.unneutralise(header.strip()).strip().lower()


class People:
    """Workspace members by lower-cased name and e-mail (Assignees, Created By)."""

    def __init__(self, members: list[tuple[int, str, str]]) -> None:
        self.by_key: dict[str, set[int]] = {}
        for user_id, name, email in members:
            for key in (name.strip().lower(), email.strip().lower()):
                if key:
                    self.by_key.setdefault(key, set()).add(user_id)

    def resolve(self, ref: str) -> int:
        found = self.by_key.get(ref.strip().lower(), set())
        if len(found) != 1:
            problem = "is not a member of the workspace" if not found else "matches several members"
            raise cells.CellError("UNKNOWN_ASSIGNEE", f"{errors.shown(ref.strip())} {problem}")
        return next(iter(found))


def parse_record(
    line: int,
    raw: list[str],
    header: HeaderMap,
    parsers: Mapping[int, cells.CellParser],
    people: People,
) -> Record:
    # most cells start with no quote: unneutralise would hand them back as they are
    values = [bf.unneutralise(cell) if cell.startswith("'") else cell for cell in raw]
    record = Record(line=line, raw=raw)
    if len(values) > len(header.headers):
        record.errors.append({"column": "", "code": "TOO_MANY_CELLS",
                              "message": f"The row has {len(values)} cells; headers name {len(header.headers)}"})  # fmt: skip
        return record
    for index, name in header.fields.items():
        text = values[index].strip() if index < len(values) else ""
        try:
            _set_field(record, name, text, people)
        except cells.CellError as exc:
            record.errors.append({"column": name, "code": exc.code, "message": exc.message})
    for index, parser in parsers.items():
        column = header.columns[index]
        try:
            cell = parser(values[index] if index < len(values) else "")
        except cells.CellError as exc:
            record.errors.append({"column": column.title, "code": exc.code, "message": exc.message})
            continue
        if cell is not None and cell.value is not None:
            record.values[column.id] = cell
    return record


def _set_field(record: Record, name: str, text: str, people: People) -> None:
    if name == bf.TITLE:
        record.name = text
    elif name == bf.LIST:
        record.list_title = text or None
    elif name == bf.DONE:
        record.done = bf.parse_done(text)
    elif name in (bf.START_DATE, bf.DUE_DATE, bf.CREATED_AT, bf.UPDATED_AT):
        moment = bf.parse_timestamp(text)
        attribute = {bf.START_DATE: "start_date", bf.DUE_DATE: "due_date",
                     bf.CREATED_AT: "created_at", bf.UPDATED_AT: "updated_at"}[name]  # fmt: skip
        setattr(record, attribute, moment)
    elif name == bf.DESCRIPTION:
        record.description = text or None
    elif name == bf.COLOR:
        record.color = text or None
    elif name == bf.ASSIGNEES:
        record.assignee_ids = list(dict.fromkeys(people.resolve(n) for n in bf.split_names(text)))
    elif name == bf.CREATED_BY:
        # informative: a creator who is not a member here falls back to the importing user
        with contextlib.suppress(cells.CellError):
            record.creator_id = people.resolve(text) if text else None
    elif name == bf.TAGS:
        record.tags = bf.split_names(text)
    # PROJECT names the workspace the file came from: informative only


def is_header_row(record: list[str], headers: list[str]) -> bool:
    """Whether a file's first row is a header row: each of its non-empty cells names one of
    `headers` (trimmed, ignoring case), in any order and however many. A file whose own
    header row differs from `headers` (fewer columns, another order) would otherwise import
    that row as a record."""
    named = {h.strip().lower() for h in headers}
    # either side may carry the quote export puts before a formula trigger (the file's
    # header row does; `headers` copied from it does too)
    named |= {bf.unneutralise(h.strip()).strip().lower() for h in headers}
    cells = [c.strip().lower() for c in record]
    return any(cells) and all(
        cell in named or bf.unneutralise(cell) in named for cell in cells if cell
    )


def count_records(path: Path, headers: list[str], stop_at: int | None = None) -> int:
    """Data records in the file, counted up to `stop_at` (enough to tell a file over the
    TODO_IMPORT_LIMIT without reading the rest of it)."""
    count = 0
    for index, (_line, record) in enumerate(csvfile.read_records(path)):
        if index == 0 and is_header_row(record, headers):
            continue
        if any(cell.strip() for cell in record):
            count += 1
            if count == stop_at:
                break
    return count


def record_chunks(
    path: Path,
    header: HeaderMap,
    parsers: Mapping[int, cells.CellParser],
    people: People,
    done: set[int],
) -> Iterator[list[Record]]:
    """The file's records parsed, in chunks of CHUNK_ROWS, or fewer once their cells, tags
    and assignees weigh planning.CHUNK_BYTES: 500 records of 2,000 tags each were a million
    names to unpickle in the server, which held its event loop for half a second."""
    chunk: list[Record] = []
    size = 0
    for index, (line, raw) in enumerate(csvfile.read_records(path)):
        if index == 0 and is_header_row(raw, header.headers):
            continue
        if line in done or not any(cell.strip() for cell in raw):
            continue
        record = parse_record(line, raw, header, parsers, people)
        record.document, record.values = encode_document(record.values), {}
        chunk.append(record)
        names = len(record.tags) + len(record.assignee_ids)
        size += planning.cells_size(raw) + planning.CELL_BYTES * names
        if len(chunk) >= CHUNK_ROWS or size >= planning.CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def list_group_id(title: str) -> str:
    """A stable group id for a list created by an import."""
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:30] or "list"
    return f"{slug}_{hashlib.sha1(title.lower().encode()).hexdigest()[:6]}"


def progress_event(
    user: User, board: Board, status: str, progress: float, error: str | None = None
) -> events.ProgressEvent:
    return events.progress_event("IMPORT", user, board, status, progress, error)


@dataclass
class BlueTarget:
    job: Job
    board: Board
    user: User
    header: HeaderMap
    directory: cells.Directory
    people: People
    tags: dict[str, int]  # lower-cased name -> tag id
    total: int
    # read again by each chunk, under the workspace's row lock (`_lock_lists`):
    # lower-cased title -> group id of an open list, first by position
    groups: dict[str, str] = field(default_factory=dict)
    archived_lists: set[str] = field(default_factory=set)  # titles only archived lists have
    position: int = 0
    processed: int = 0
    last_progress: float = 0.0
    # outcome counts as committed: kept here so a chunk's checkpoint counts only its own rows
    counts: dict[str, int] = field(default_factory=dict)


async def process_blue_job(services: Services, job: Job) -> None:
    users = await services.accounts.users(job.account_id, [job.user_id])
    user = users[0] if users else None
    board = await services.boards.board_for_user(user, str(job.board_id)) if user else None
    if user is None or board is None or board.state == "deleted":
        status = await _end(services, job, "FAILED", GONE_MESSAGE, None)
        if user is not None:
            await _report_gone(services, job, user, status)
        # A user whose row is gone gets no event: progress_events references users, as
        # import_jobs does (so this job's row went with theirs).
        return
    target: BlueTarget | None = None
    try:
        # inside the try: a full disk may refuse the folder itself (processing.process_job)
        with scratch.folder("blue-import") as tmp:
            await faults.arm_scratch(services.pool, ("upload", "chunk"))
            path = Path(tmp) / "import.csv"
            await processing.download(services, job.object_key, path, None)
            target = await _prepare(services, job, board, user, path)
            await _run(services, target, path)
    except StaleAttempt:
        logger.warning("blue import taken over", extra={"job_id": str(job.id)})
    except WorkspaceGone:
        await _stop(services, job, user, board, target, "FAILED", GONE_MESSAGE)
    except CancelledImport:
        await _stop(services, job, user, board, target, "CANCELLED", None)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if processing.is_transient(exc) and job.attempt < processing.MAX_ATTEMPTS:
            # resumed from the last committed chunk once the lease runs out
            logger.warning(
                "blue import %s interrupted, will resume: %s",
                job.id, processing.describe(exc), extra={"job_id": str(job.id)},
            )  # fmt: skip
            return
        message = exc.message if isinstance(exc, csvfile.InvalidUpload) else _db_message(exc)
        if diskfull.is_full(exc):
            message = diskfull.message(exc, job.attempt)
        logger.warning("blue import failed: %s", message, extra={"job_id": str(job.id)})
        await _stop(services, job, user, board, target, "FAILED", message)


async def _stop(
    services: Services,
    job: Job,
    user: User,
    board: Board,
    target: BlueTarget | None,
    status: str,
    message: str | None,
) -> None:
    """End the import before its last record (CANCELLED or FAILED) and tell its subscribers."""
    status = await _end(services, job, status, message, target)
    progress = target.last_progress if target else 0.0
    event = progress_event(user, board, EVENT_STATUS[status], progress, message)
    await events.publish(services.pool, board.id, user.id, event)


async def _report_gone(services: Services, job: Job, user: User, status: str) -> None:
    """The ERROR event of an import whose user can no longer see its workspace: a
    subscription opened before the access was lost is still waiting for the end."""
    # the workspace's row without the access check, for the slug and name the event carries
    row = await services.pool.fetchrow(
        BOARDS["board_for_user"], job.account_id, user.id, str(job.board_id)
    )
    if row is None:  # the row is gone, and its progress events with it: no one to tell
        return
    board = Board.from_row(row)
    event = progress_event(user, board, EVENT_STATUS[status], 0.0, GONE_MESSAGE)
    await events.publish(services.pool, board.id, user.id, event)


def _db_message(exc: Exception) -> str:
    if isinstance(exc, asyncpg.PostgresError | csvfile.InvalidUpload | OSError):
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return f"Internal error ({type(exc).__name__})"


async def _prepare(
    services: Services, job: Job, board: Board, user: User, path: Path
) -> BlueTarget:
    columns = [
        c.cell_column()
        for c in (await services.boards.columns([board.id]))[board.id]
        if not c.archived
    ]
    header = map_headers([str(h) for h in job.options["headers"]], columns)
    targets = sorted(
        {int(b) for c in header.columns.values() for b in c.settings.get("board_ids", [])}
    )
    directory = await directory_store.load_directory(
        services.pool, job.account_id, targets, board_id=board.id
    )
    members = await services.pool.fetch(Q["board_members_directory"], board.id)
    people = People([(m["id"], m["name"], m["email"]) for m in members])
    total = await asyncio.to_thread(count_records, path, header.headers)
    tags = {
        r["name"].strip().lower(): r["id"]
        for r in await services.pool.fetch(Q["tags_of_board"], board.id)
    }
    state = {"unknown_headers": header.unknown, "total": total}
    async with services.pool.acquire() as conn, conn.transaction():
        await services.jobs.save_progress(conn, job, checkpoint_line=job.checkpoint_line, counts=job.counts,
                                          progress=job.progress, total_rows=total, state=state)  # fmt: skip
    return BlueTarget(job=job, board=board, user=user, header=header, directory=directory, people=people,
                      tags=tags, total=total)  # fmt: skip


async def _lock_lists(conn: Connection, target: BlueTarget) -> None:
    """In the chunk's transaction, before it writes: take the workspace's row lock and read its
    lists and next position. A list deleted or archived while the import ran would otherwise
    take records no one sees (the lists were read once), and positions read once collide with
    those other writers took since; the lock makes such changes wait for the chunk."""
    board_id = target.board.id
    await _fence(conn, target.job)  # first, as a monday chunk: one lock order for both
    await conn.execute(BOARDS["lock_board"], board_id)
    if await conn.fetchval(BOARDS["board_state"], board_id) in (None, "deleted"):
        raise WorkspaceGone(board_id)
    target.groups, target.archived_lists = {}, set()
    for row in await conn.fetch(Q["groups_by_title"], board_id):
        title = row["title"].strip().lower()
        if row["archived"]:
            target.archived_lists.add(title)
        else:  # open lists come first, by position: the first is the default list
            target.groups.setdefault(title, row["id"])
    target.archived_lists -= target.groups.keys()
    target.position = int(await conn.fetchval(Q["next_position"], board_id))


async def _fence(conn: Connection, job: Job) -> None:
    """Lock the job's row in the caller's transaction and stop if a cancel was recorded.
    cancelTodoImport's UPDATE waits for that lock: it is recorded either before (this chunk
    writes nothing) or after the transaction commits (and finds the import ended if this was
    its last chunk), never in between."""
    await JobStore.fence(conn, job)
    if await conn.fetchval(Q["cancel_requested"], job.id):
        raise CancelledImport


async def _write_chunk(
    services: Services, target: BlueTarget, chunk: list[Record], *, last: bool
) -> None:
    """Write one chunk in one transaction; the last one also ends the import."""
    job, board, user = target.job, target.board, target.user
    async with services.pool.acquire() as conn, conn.transaction():
        results = await _write_records(conn, target, chunk, services.clock.now())
        target.processed += len(chunk)
        target.last_progress = _progress(target)
        counts = dict(target.counts)
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        await services.jobs.save_progress(conn, job, checkpoint_line=chunk[-1].line, counts=counts,
                                          progress=int(target.last_progress), total_rows=target.total, state={})  # fmt: skip
        await events.publish(conn, board.id, user.id,
                             progress_event(user, board, "IN_PROGRESS", target.last_progress))  # fmt: skip
        if last:
            await _complete(conn, services, target)
    target.counts = counts


async def _complete(conn: Connection, services: Services, target: BlueTarget) -> None:
    """End the import COMPLETE in the caller's transaction (its job row locked by `_fence`)."""
    job, board, user = target.job, target.board, target.user
    counts = await JobStore.outcome_counts(conn, job.id, target.total)
    await JobStore.finish_in(
        conn, job, status="COMPLETED", counts=counts, progress=100, now=services.clock.now()
    )
    await events.publish(conn, board.id, user.id, progress_event(user, board, "COMPLETE", 100.0))


async def _run(services: Services, target: BlueTarget, path: Path) -> None:
    job, board, user = target.job, target.board, target.user
    done = {r["line"] for r in await services.pool.fetch(Q["done_lines"], job.id)}
    target.processed = len(done)
    target.counts = await JobStore.outcome_counts(services.pool, job.id, target.total)
    target.last_progress = _progress(target)
    if done:  # resumed; a new import's IN_PROGRESS 0.0 was sent when it was accepted
        await events.publish(
            services.pool,
            board.id,
            user.id,
            progress_event(user, board, "IN_PROGRESS", target.last_progress),
        )
    # parsed in the server's parsing worker process, off the event loop
    token = f"blue:{job.id}:{job.attempt}"
    records = worker.chunks_of(
        services.parsing, worker.open_records, token, path, target.header, target.directory,
        target.people, done,
    )  # fmt: skip
    completed = False
    try:
        async for chunk, last in _marking_last(records):
            await _write_chunk(services, target, chunk, last=last)
            completed = last
    finally:
        with contextlib.suppress(Exception):
            await services.parsing.call(worker.close, token)
    if not completed:  # no record to write (every row empty)
        async with services.pool.acquire() as conn, conn.transaction():
            await _fence(conn, job)
            await _complete(conn, services, target)


async def _marking_last(chunks: AsyncIterator[Any]) -> AsyncIterator[tuple[list[Record], bool]]:
    """Each chunk with whether it is the file's last, so that the last one's transaction also
    ends the import; the worker plans chunks ahead, so looking one ahead costs no wait."""
    held: list[list[Record]] = []
    async for chunk in chunks:
        if held:
            yield held.pop(), False
        held.append(chunk)
    if held:
        yield held.pop(), True


def _progress(target: BlueTarget) -> float:
    return round(min(100.0, target.processed * 100.0 / max(target.total, 1)), 2)


async def _end(
    services: Services, job: Job, status: str, message: str | None, target: BlueTarget | None
) -> str:
    """End the import CANCELLED or FAILED; the status written. A failure ends CANCELLED when a
    cancel was recorded before it (the chunk that failed had rolled back, letting it in):
    cancelTodoImport answered true, and a true answer means the import ends CANCELLED."""
    async with services.pool.acquire() as conn, conn.transaction():
        if status == "FAILED" and await conn.fetchval(Q["lock_for_end"], job.id, job.attempt):
            status, message = "CANCELLED", None
        counts = await JobStore.outcome_counts(conn, job.id, target.total if target else 0)
        await JobStore.finish_in(
            conn, job, status=status, counts=counts,
            progress=int(target.last_progress if target else 0), now=services.clock.now(),
            failure_reason="INTERNAL_ERROR" if status == "FAILED" else None,
            failure_message=message,
        )  # fmt: skip
    return status


async def _write_records(
    conn: Connection, target: BlueTarget, chunk: list[Record], now: dt.datetime
) -> list[RowResult]:
    job = target.job
    await _lock_lists(conn, target)
    _refuse_archived_lists(target, chunk)
    good = [r for r in chunk if not r.errors]
    if job.options.get("dryRun"):  # validation and the report only: nothing is created
        planned = [_result(r, None) for r in chunk]
        await JobStore.insert_row_results(conn, job, planned)
        return planned
    ids = await _create_records(conn, target, good, now) if good else []
    item_of = dict(zip((r.line for r in good), ids, strict=True))
    results = [_result(r, item_of.get(r.line), keep_cells=False) for r in chunk]
    await JobStore.insert_row_results(conn, job, results)
    return results


def _refuse_archived_lists(target: BlueTarget, chunk: list[Record]) -> None:
    # an archived list takes no records, as create_item refuses one: they would be hidden
    for record in chunk:
        title = (record.list_title or "").strip()
        if title.lower() in target.archived_lists:
            record.errors.append({"column": bf.LIST, "code": "ARCHIVED_LIST",
                                  "message": f"The list {errors.shown(title)} is archived: unarchive it or name another list"})  # fmt: skip


async def _create_records(
    conn: Connection, target: BlueTarget, good: list[Record], now: dt.datetime
) -> list[int]:
    """Create the valid records (at least one) with their lists, tags and assignees; their
    item ids, in order."""
    for record in good:
        await _create_missing_list(conn, target, record)
    await _create_missing_tags(conn, target, good)
    default_group = await _default_group(conn, target)
    ids = [r["id"] for r in await conn.fetch(Q["allocate_item_ids"], len(good))]
    await _insert_items(conn, target, _item_rows(target, good, ids, default_group, now))
    target.position += len(good)
    assignees = ((i, u) for i, r in zip(ids, good, strict=True) for u in r.assignee_ids)
    await _insert_pairs(conn, Q["add_assignees"], assignees)
    tags = ((i, target.tags[t.lower()]) for i, r in zip(ids, good, strict=True) for t in r.tags)
    await _insert_pairs(conn, Q["add_item_tags"], tags)
    return ids


async def _create_missing_list(conn: Connection, target: BlueTarget, record: Record) -> None:
    title = (record.list_title or "").strip()
    if title and title.lower() not in target.groups:
        target.groups[title.lower()] = await _create_list(
            conn, target.board.id, list_group_id(title), title
        )


async def _create_missing_tags(conn: Connection, target: BlueTarget, records: list[Record]) -> None:
    """Create the tags the records name that the board lacks, in one statement."""
    missing: dict[str, str] = {}  # lower-cased name -> the first spelling
    for record in records:
        for tag in record.tags:
            if tag.lower() not in target.tags:
                missing.setdefault(tag.lower(), tag)
    if not missing:
        return
    keys = list(missing)
    board = target.board
    for row in await conn.fetch(
        Q["create_tags"], board.account_id, board.id, list(missing.values())
    ):
        target.tags[keys[row["n"] - 1]] = row["id"]


async def _default_group(conn: Connection, target: BlueTarget) -> str:
    """The list a record naming none goes to: the first open one, created if there is none."""
    group = next(iter(target.groups.values()), None)
    if group is None:
        group = await _create_list(conn, target.board.id, "topics", "Records")
        target.groups["records"] = group
    return group


def _item_rows(
    target: BlueTarget, good: list[Record], ids: list[int], default_group: str, now: dt.datetime
) -> list[tuple[Any, ...]]:
    """The records as rows of the items table, in RECORD_COLUMNS' order."""
    groups = [
        target.groups[r.list_title.strip().lower()] if r.list_title else default_group for r in good
    ]
    positions = range(target.position, target.position + len(good))
    return [
        (item_id, target.board.id, group, r.name, position, r.creator_id or target.user.id,
         r.created_at or now, r.updated_at or r.created_at or now, r.done, r.start_date,
         r.due_date, r.description, r.color,
         r.document)
        for item_id, group, r, position in zip(ids, groups, good, positions, strict=True)
    ]  # fmt: skip


async def _insert_items(conn: Connection, target: BlueTarget, rows: list[tuple[Any, ...]]) -> None:
    if target.job.options.get("useRustImport"):
        await conn.copy_records_to_table("items", columns=RECORD_COLUMNS, records=rows)
        return
    columns = [list(column) for column in zip(*rows, strict=True)]
    # the same rows as arrays, one per column (the board id is the statement's $1),
    # the values documents as JSON text
    documents = [document.decode() for document in columns[-1]]
    await conn.execute(Q["insert_records"], target.board.id, columns[0], *columns[2:-1], documents)


async def _insert_pairs(conn: Connection, query: str, pairs: Iterator[tuple[int, int]]) -> None:
    """Run `query` on the pairs as two arrays, PAIRS_AT_ONCE pairs at a time."""
    while batch := list(itertools.islice(pairs, PAIRS_AT_ONCE)):
        await conn.execute(query, [p[0] for p in batch], [p[1] for p in batch])


async def _create_list(conn: Connection, board_id: int, group_id: str, title: str) -> str:
    """A new list last on the board; returns its id: `group_id`, or that with a suffix when
    another list has it. A deleted list keeps its id, and records given it would be gone."""
    candidates = [group_id, *(f"{group_id}_{n}" for n in range(2, NUMBERED_LIST_IDS))]
    for candidate in candidates:
        if await BoardStore.insert_group(conn, board_id, candidate, title, at_top=False):
            return candidate
    while True:  # a hundred taken ids: only a random suffix is still likely free
        candidate = f"{group_id}_{uuid.uuid4().hex[:8]}"
        if await BoardStore.insert_group(conn, board_id, candidate, title, at_top=False):
            return candidate


def _result(record: Record, item_id: int | None, *, keep_cells: bool = True) -> RowResult:
    """A record's outcome; a created record's cells are kept only for a dry run's report."""
    return RowResult(
        line=record.line,
        status="invalid" if record.errors else "created",
        item_id=item_id,
        errors=[
            {"column_id": e["column"], "code": e["code"], "message": e["message"]}
            for e in record.errors
        ],
        cells=record.raw if keep_cells or record.errors else [],
    )


def parse_headers(value: Any) -> list[str]:
    """`headers` is JSON: a non-empty array of strings, one per CSV column."""
    if not isinstance(value, list) or not value or not all(isinstance(h, str) for h in value):
        raise ValueError("headers must be a non-empty JSON array of strings")
    for index, header in enumerate(value):
        # the headers are kept with the job, and PostgreSQL could not store this one
        if not sql.storable(header):
            raise ValueError(
                f"headers[{index}] holds a NUL character or a lone UTF-16 surrogate: "
                "a header is text"
            )
    return [str(h) for h in value]
