"""Processing one claimed monday-style import job, from the uploaded object to COMPLETED.

A first pass over a local copy of the file decides whatever could reject it as a whole, so a
rejected file leaves the board untouched. A flat file whose rows all fit is then validated and
written in one pass; other files are scanned whole first. Rows are written in chunks (up to
CHUNK_ROWS, the first ones smaller), each in one transaction with its checkpoint. Parsing and validation run in the
parsing worker process (`worker`), so the event loop keeps answering while a job runs.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

import asyncpg

from server import batching, diskfull, faults, limits, scratch, sql
from server.db import Connection
from server.errors import StorageError
from server.imports import csvfile, planning, report, subitems, worker
from server.imports.matchkeys import KeyChanges, KeysChanged
from server.imports.planning import Rejection
from server.imports.worker import ParserSpec
from server.imports.writer import (
    ChunkTarget,
    EncodedChunk,
    PlannedRow,
    TargetClosed,
    failed_result,
    forget_created,
    forget_encoded,
    keeps_cells,
    write_chunk,
    write_encoded_chunk,
)
from server.services import Services
from server.store import directory as directory_store
from server.store.jobs import Job, JobStore, RowResult, StaleAttempt
from server.store.records import EDIT_ROLES, Board

logger = logging.getLogger(__name__)
Q = sql.queries("imports")

Rows = TypeVar("Rows")  # what one chunk write takes: planned rows, or an encoded chunk
MAX_FILE_BYTES = 150 * 1024 * 1024  # bytes, as monday documents
ROW_LIMITS = {"ingest": 10_000, "backfill": 20_000}  # data rows per file
BOARD_ITEM_LIMIT = 100_000  # active items a board may hold
MAX_ATTEMPTS = 5  # claims of one job before a transient failure ends it FAILED
REPORT_PREFIX = "reports/"
REPORT_PAGE_ROWS = 500  # row results read at a time for a report, at most


async def process_job(services: Services, job: Job) -> None:
    """Run a claimed job to a terminal state; never raises for a bad file."""
    log = {"job_id": str(job.id), "action": "process"}
    try:
        # inside the try: a full disk may refuse the folder itself, and the folder (with any
        # half-written file of a failed attempt) is gone before the job ends
        with scratch.folder("import") as tmp:
            await faults.arm_scratch(services.pool, ("upload", "chunk", "report"))
            await _process(services, job, Path(tmp))
    except Rejection as exc:
        await _finish(services, job, "REJECTED", reason=exc.reason, message=exc.message)
    except csvfile.InvalidUpload as exc:
        await _finish(services, job, "REJECTED", reason="INVALID_UPLOAD", message=exc.message)
    except TargetClosed as exc:  # rows were written: FAILED, with what they did
        await _finish(services, job, "FAILED", reason=exc.reason, message=exc.message)
    except StaleAttempt:
        logger.warning("job taken over by another runner", extra=log)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_transient(exc) and job.attempt < MAX_ATTEMPTS:
            # the database or S3 went away, or a disk is full: leave the job claimed; when
            # the lease runs out a runner resumes it from its last committed chunk
            logger.warning("job %s interrupted, will resume: %s", job.id, describe(exc), extra=log)
            return
        logger.exception("job failed", extra=log)
        await _finish(services, job, "FAILED", reason="INTERNAL_ERROR", message=_failure(exc, job))


def _failure(exc: Exception, job: Job) -> str:
    """The failure_message of a job that `exc` ended: driver and storage errors say what
    failed; anything else stays internal."""
    if diskfull.is_full(exc):
        return diskfull.message(exc, job.attempt)
    if is_transient(exc) or isinstance(exc, asyncpg.PostgresError | InjectedFault):
        return describe(exc)
    return f"Internal error ({type(exc).__name__})"


def describe(exc: BaseException) -> str:
    """`Class: message`: an expected failure (`is_transient`) is logged as this one line,
    without a traceback, which is kept for the unexpected ones."""
    return f"{type(exc).__name__}: {exc}"


def is_transient(exc: BaseException) -> bool:
    """A failure of the database connection or of S3, not of the job itself."""
    return isinstance(
        exc,
        StorageError
        | OSError
        # a deadlock or serialization failure is no fault of the rows: written again on resume
        | asyncpg.TransactionRollbackError
        | asyncpg.InterfaceError
        # a pooled connection whose session ended while its process was frozen or the
        # database cut it: asyncpg hands it out once more and refuses the next statement
        # ("cannot switch to state 11; another operation (2) is in progress")
        | asyncpg.InternalClientError
        | asyncpg.PostgresConnectionError
        | asyncpg.OperatorInterventionError
        # the database's disk full (53100) or another resource out (class 53): see diskfull
        | asyncpg.InsufficientResourcesError,
    )


async def _finish(services: Services, job: Job, status: str, *, reason: str, message: str) -> None:
    """End the job; a FAILED one reports what its committed chunks did, as the board shows."""
    with contextlib.suppress(
        asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError
    ):
        current = await services.jobs.get(job.id) or job
        counts = dict(current.counts)
        if status == "FAILED":
            counts = await JobStore.outcome_counts(services.pool, job.id, current.total_rows or 0)
        await services.jobs.finish(
            job, status=status, counts=counts, progress=current.progress,
            now=services.clock.now(), failure_reason=reason, failure_message=message,
        )  # fmt: skip


def _check_size(name: str, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise Rejection(
            "FILE_TOO_LARGE",
            f"{name} is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes (150 MB)",
        )


async def _process(services: Services, job: Job, tmp: Path) -> None:
    await _injected_fault(services)
    board = await _check_access(services, job)
    size = await services.storage.head(job.object_key)
    if size is None:
        raise Rejection("INVALID_UPLOAD", "No file was uploaded for this job")
    _check_size("The file", size)
    if job.options.get("subitems"):
        # the limit is each file's: the subitems file was read whatever its size
        child_size = await services.storage.head(subitems.children_key(job))
        if child_size is not None:
            _check_size("The subitems file", child_size)
    path = tmp / "upload.csv"
    await download(services, job.object_key, path, job.options.get("character_encoding"))
    columns = {
        c.id: c.cell_column()
        for c in (await services.boards.columns([board.id]))[board.id]
        if not c.archived
    }
    targets = sorted({int(b) for c in columns.values() for b in c.settings.get("board_ids", [])})
    directory = await directory_store.load_directory(
        services.pool, job.account_id, targets, board_id=board.id
    )
    spec = ParserSpec(
        columns=columns, directory=directory, hierarchy_levels=board.hierarchy_levels,
        options=job.options,
    )  # fmt: skip
    token = f"{job.id}:{job.attempt}"
    try:
        await _run_scanned(services, job, board, spec, token, tmp)
    finally:
        closing = [(pool, token) for pool in services.parse_pools]
        for pool, session in [*closing, (services.parsing, f"{token}:children")]:
            with contextlib.suppress(Exception):  # a worker that died has nothing to close
                await pool.call(worker.close, session)


async def _run_scanned(
    services: Services,
    job: Job,
    board: Board,
    spec: ParserSpec,
    token: str,
    tmp: Path,
) -> None:
    """Scan the downloaded file in the parsing worker, check capacity, write, report."""
    path = tmp / "upload.csv"
    # the items rows may match are read while the worker counts the file (for an upsert on a
    # board of 5,000 items, both take tens of milliseconds before the first row is written)
    keys = _key_changes(spec)
    matching = asyncio.create_task(_matches(services, board, spec, keys))
    try:
        sized = await _size_up(services, job, board, spec, token, tmp, matching)
        matches = await matching
    finally:
        matching.cancel()  # a no-op once done; stops the query when the file was rejected
        await asyncio.wait({matching})
        if not matching.cancelled():
            matching.exception()  # retrieved: the job's own error is the one that counts
    header, total, streaming, child_scan = sized

    pools = services.parse_pools if streaming and worker.shares_chunks(spec) else []
    start = worker.stream if streaming else worker.plan

    def chunks(done: set[int]) -> AsyncIterator[list[PlannedRow] | EncodedChunk]:
        if len(pools) > 1:  # rows independent of each other: validated in every worker
            shared = worker.SharedFile(path=path, spec=spec, job=job, board=board, done=done)
            return worker.shared_chunks(pools, token, shared)
        return worker.chunks_of(services.parsing, start, token, job, board, matches, done)

    await _write(
        services, job, chunks, total,
        lambda lines: worker.replanned(services.parsing, token, lines), keys,
    )  # fmt: skip
    if child_scan is not None:
        parents, lost = await _parent_keys(services, job, board, header, spec.parents_by_item_id)
        children = f"{token}:children"
        await _write(
            services, job,
            lambda done: worker.chunks_of(
                services.parsing, worker.plan_children, children, parents, lost, done
            ),
            total,
        )  # fmt: skip
    await _settle_budget(services, job, total)
    await _complete(services, job, header, child_scan, total, tmp)


class _Sized(NamedTuple):
    """What the first look at the files decided: their header and rows, whether rows can be
    written as they are validated, and the subitems file's scan."""

    header: csvfile.Header
    total: int
    streaming: bool
    child_scan: worker.ChildSummary | None


async def _size_up(
    services: Services,
    job: Job,
    board: Board,
    spec: ParserSpec,
    token: str,
    tmp: Path,
    matching: asyncio.Task[dict[str, list[int | str]]],
) -> _Sized:
    """Count (or scan) the files in the parsing worker; reject what cannot fit the board."""
    path = tmp / "upload.csv"
    limit = ROW_LIMITS[job.kind]
    if not job.options.get("subitems"):
        counted = await services.parsing.call(worker.count, token, path, spec, limit)
        if counted.total is not None:  # a flat file
            # every row counted as valid: if even that fits, rows can be written as they are
            # validated; otherwise the full scan decides on the exact number of valid rows
            upper = Totals(total=counted.total, valid=counted.total)
            if await _check_capacity(services, job, board, upper, exact=False):
                return _Sized(counted.header, counted.total, streaming=True, child_scan=None)
    scan = await services.parsing.call(worker.scan, token, path, spec, limit)
    child_scan = None
    if job.options.get("subitems"):
        child_scan = await _scan_children(
            services, job, spec, tmp / "subitems.csv", f"{token}:children",
            spec.relations_in(scan.header),
        )  # fmt: skip
    totals = Totals(
        total=scan.total + (child_scan.total if child_scan else 0),
        valid=scan.valid + (child_scan.valid if child_scan else 0),
    )

    async def new_items() -> int:
        # rows that update or skip a matched item add none to the board
        creates = await services.parsing.call(
            worker.count_creates, token, job, board, await asyncio.shield(matching)
        )
        return creates + (child_scan.valid if child_scan else 0)

    async def valid_rows() -> int:
        # a key that matches several items, or a new row without a name, is found invalid
        # only when the row is matched
        valid = await services.parsing.call(
            worker.count_valid, token, job, board, await asyncio.shield(matching)
        )
        return valid + (child_scan.valid if child_scan else 0)

    matched = spec.behaviour is not None
    await _check_capacity(
        services, job, board, totals, new_items=new_items if matched else None,
        valid_rows=valid_rows if matched else None,
    )  # fmt: skip
    return _Sized(scan.header, totals.total, streaming=False, child_scan=child_scan)


def _key_changes(spec: ParserSpec) -> KeyChanges | None:
    """For a job matching rows by a key other writers may change (not an item id): the
    changes its chunks will read."""
    if spec.behaviour and spec.match_column and not spec.matches_item_id:
        return KeyChanges(behaviour=spec.behaviour, match_column=spec.match_column)
    return None


async def _matches(
    services: Services, board: Board, spec: ParserSpec, keys: KeyChanges | None
) -> dict[str, list[int | str]]:
    """Match key -> the board's active items with that key, for a job with `on_match`;
    `keys` starts from the last change of the board's keys before they are read."""
    matches: dict[str, list[int | str]] = {}
    behaviour, match_column = spec.behaviour, spec.match_column
    if keys is not None:
        async with services.pool.acquire() as conn, conn.transaction():
            await keys.read_watermark(conn, board.id)
    if behaviour and match_column:
        args: tuple[object, ...]
        if spec.matches_item_id:
            query, args = Q["match_by_id"], (board.id,)
        elif match_column == "name":
            query, args = Q["match_by_name"], (board.id,)
        else:
            query, args = Q["match_by_column"], (board.id, match_column)
        for row in await services.pool.fetch(query, *args):
            matches.setdefault(row["key"], []).append(row["item_id"])
    return matches


async def _scan_children(
    services: Services,
    job: Job,
    spec: ParserSpec,
    path: Path,
    token: str,
    main_relations: frozenset[str],
) -> worker.ChildSummary:
    await download(
        services, subitems.children_key(job), path, job.options.get("character_encoding")
    )
    return await services.parsing.call(
        worker.scan_children, token, path, spec,
        job.options["subitems"]["parent_key_header"], ROW_LIMITS[job.kind], main_relations,
    )  # fmt: skip


async def _parent_keys(
    services: Services, job: Job, board: Board, header: csvfile.Header, by_item_id: bool
) -> tuple[dict[str, list[subitems.Parent]], dict[str, tuple[int, str]]]:
    """Key -> the items the parent file's rows became (or would become, in a dry run): rows
    that became one item (a key repeated in an upsert) are one parent. Then key -> the first
    parent row that became no item (its line and status), for its children's report.
    `by_item_id`: keys are item ids (Zoho's Parent_Id found by id), of any active item of the
    board, whether or not a row of the parent file created or matched it."""
    if by_item_id:
        rows = list(await services.pool.fetch(Q["parents_by_id"], board.id))
        return await _parents(services, job, board, rows), {}
    rows, lost = await _parent_rows(services, job, header)
    return await _parents(services, job, board, rows), lost


async def _parent_rows(
    services: Services, job: Job, header: csvfile.Header
) -> tuple[list[asyncpg.Record], dict[str, tuple[int, str]]]:
    """The parent file's rows that became (or would become) an item, with their key; key ->
    the first row that became no item."""
    key_column = job.options["subitems"]["parent_key_column_id"]
    if key_column == "name":  # the name at the row's level: each row names one
        indexes = sorted(header.level_of_index, key=header.level_of_index.__getitem__)
    else:
        indexes = [i for i, column in header.column_of_index.items() if column == key_column]
    # the key column's mapping, by column: one without an index (a constant) has none to
    # compare, and `name.l1` is `name`
    mapped = ("name", "name.l1") if key_column == "name" else (key_column,)
    default = next(
        (m.get("default_value") for m in job.options.get("field_mappings") or []
         if str(m["column_id"]) in mapped),
        None,
    )  # fmt: skip
    rows: list[asyncpg.Record] = []
    lost: dict[str, tuple[int, str]] = {}
    for row in await services.pool.fetch(
        Q["parent_keys"], job.id, indexes, subitems.CHILD_LINE_OFFSET, default,
        key_column == "name",
    ):  # fmt: skip
        if not row["key"]:
            continue
        # one to be created has no item yet in a dry run, nor one updating it
        if row["item_id"] is not None or row["status"] == "created":
            rows.append(row)
        elif row["status"] != "updated":
            lost.setdefault(row["key"], (row["line"], row["status"]))
    return rows, lost


async def _parents(
    services: Services, job: Job, board: Board, rows: Sequence[asyncpg.Record]
) -> dict[str, list[subitems.Parent]]:
    """Key -> its parents, from rows of key, item_id (None: to be created) and level."""
    on_match = (job.options.get("on_match") or {}).get("behaviour")
    existing = await _subitems_by_name(services, rows) if on_match else {}
    # a board of one level still holds subitems (monday's subitems board): one level below
    deepest = max(board.hierarchy_levels, 2)
    parents: dict[str, list[subitems.Parent]] = {}
    for row in rows:
        found = parents.setdefault(row["key"], [])
        if row["item_id"] is not None and any(p.item_id == row["item_id"] for p in found):
            continue
        parent = subitems.Parent(
            item_id=row["item_id"], level=row["level"], holds_subitems=row["level"] < deepest,
            on_match=on_match, subitems=existing.get(row["item_id"], {}),
        )  # fmt: skip
        found.append(parent)
    return parents


async def _subitems_by_name(
    services: Services, rows: Sequence[asyncpg.Record]
) -> dict[int, dict[str, tuple[int, ...]]]:
    """Parent item -> name -> its active subitems of that name, for child rows to match."""
    ids = sorted({row["item_id"] for row in rows if row["item_id"] is not None})
    found: dict[int, dict[str, tuple[int, ...]]] = {}
    for row in await services.pool.fetch(Q["subitems_of"], ids):
        names = found.setdefault(row["parent_id"], {})
        names[row["name"]] = (*names.get(row["name"], ()), row["item_id"])
    return found


async def _injected_fault(services: Services) -> None:
    """A fault the admin API queued for the next uploaded file (operation "upload")."""
    fault = await faults.take(services.pool, "upload")
    if fault is None:
        return
    if fault.error == faults.SLOW:
        await faults.delay(fault)
    elif fault.error == faults.S3_READ_ERROR:
        raise StorageError("Storage get_object failed (injected S3_READ_ERROR)")
    elif fault.error == "INTERNAL_ERROR":
        raise InjectedFault(str(fault.params.get("message") or "Injected internal error"))
    else:
        raise Rejection(fault.error, str(fault.params.get("message") or f"Injected {fault.error}"))


async def _copy_pause(services: Services) -> float:
    """Seconds the job's first COPY of items is to pause before its data (operation "copy")."""
    fault = await faults.take(services.pool, faults.COPY)
    return faults.delay_seconds(fault) if fault is not None else 0.0


class InjectedFault(Exception):
    """An internal error the admin API asked for: the job ends FAILED."""


async def download(services: Services, key: str, path: Path, encoding: str | None) -> None:
    """Copy the upload to a local file, as UTF-8: a named charset (Zoho's
    character_encoding) is transcoded on the way, in a streaming decoder."""
    decoder = None
    if encoding and codecs.lookup(encoding).name != "utf-8":
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines = _LineCount()
    with path.open("wb") as out:
        try:
            async for chunk in services.storage.read_chunks(key):
                faults.check_scratch_write("upload", path)
                if decoder is None:
                    await asyncio.to_thread(out.write, chunk)
                    continue
                state = decoder.getstate()
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    assert encoding is not None  # a decoder is for a named charset
                    raise _undecodable(exc, encoding, state, lines) from exc
                lines.add(text)
                await asyncio.to_thread(out.write, text.encode("utf-8"))
            if decoder is not None:
                out.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeError as exc:
            # not only undecodable bytes: a UTF-16 file without a BOM raises the parent class
            # (and a decoded lone surrogate fails the UTF-8 encode)
            reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
            raise csvfile.InvalidUpload(f"The file is not valid {encoding}: {reason}") from exc


@dataclass
class _LineCount:
    """Line ends in the text decoded so far (\n, \r\n or a bare \r, as the CSV reader
    counts them), for the line of a byte that does not decode."""

    ends: int = 0
    after_cr: bool = False  # the text so far ends with \r: a \n next is half of a \r\n
    tail: int = 0  # characters after the last line end

    def add(self, text: str) -> None:
        self.ends += text.count("\n") + text.count("\r") - text.count("\r\n")
        if self.after_cr and text.startswith("\n"):
            self.ends -= 1
        last = max(text.rfind("\n"), text.rfind("\r"))
        self.tail = len(text) - last - 1 if last >= 0 else self.tail + len(text)
        if text:
            self.after_cr = text.endswith("\r")


def _undecodable(
    exc: UnicodeDecodeError, encoding: str, state: tuple[bytes, int], lines: _LineCount
) -> UnicodeError | csvfile.InvalidUpload:
    """The file's line and column of a byte that does not decode, as for a file that is not
    UTF-8; the charset's own complaint alone when the text before it cannot be had (the
    decoder's state before the chunk, with bytes it held back, decodes what comes first)."""
    try:
        before = codecs.getincrementaldecoder(encoding)(errors="strict")
        before.setstate((b"", state[1]))  # exc.object starts with the bytes held back
        text = before.decode(exc.object[: exc.start])
    except (UnicodeError, TypeError, ValueError):
        return exc  # reported as before, without its line
    counted = dataclasses.replace(lines)
    counted.add(text)
    return csvfile.InvalidUpload(
        f"Line {counted.ends + 1} is not valid {encoding} (byte 0x{exc.object[exc.start]:02x} "
        f"at column {counted.tail + 1}): {exc.reason}"
    )


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
    # deleted or archived since the job started: ingest_items itself would now refuse them
    if board.state == "deleted":
        raise Rejection("PERMISSION_DENIED", f"Board {board.id} was deleted")
    group = await services.boards.group(board.id, job.group_id)
    if group is None or group.archived:
        raise Rejection(
            "INVALID_UPLOAD",
            f"Group {job.group_id!r} was {'deleted' if group is None else 'archived'} after the "
            "job started and takes no items; start a new job with an open group",
        )
    return board


async def _check_capacity(
    services: Services,
    job: Job,
    board: Board,
    scan: Counted,
    *,
    exact: bool = True,
    new_items: Callable[[], Awaitable[int]] | None = None,
    valid_rows: Callable[[], Awaitable[int]] | None = None,
) -> bool:
    """Check the board's and the account's capacity for the valid rows, take them from the
    ingest budget and record the totals. Not `exact`: `scan.valid` counts every row (an upper
    bound, before validation); then a misfit returns False instead of rejecting the job.
    `new_items`, for a job that matches rows to items: how many items its rows create, asked
    only when the valid rows would not all fit the board (each valid row counts towards the
    item budget, which is for creates and updates alike). `valid_rows`, for such a job: its
    exact number of valid rows once matched, asked only when `scan.valid` would not fit the
    ingest budget (monday rejects a job whose valid row count does not fit)."""
    if job.options.get("budget_taken") is not None:
        return True  # a resumed job: already checked and charged on its first attempt
    active = int(await services.pool.fetchval(Q["active_item_count"], board.id))
    added = scan.valid
    if active + added > BOARD_ITEM_LIMIT and exact and new_items is not None:
        added = await new_items()
    if active + added > BOARD_ITEM_LIMIT:
        if not exact:
            return False
        raise Rejection(
            "BOARD_CAPACITY_EXCEEDED",
            f"The board holds {active:,} items; {added:,} more would pass its limit of {BOARD_ITEM_LIMIT:,}",
        )
    now = services.clock.now()
    charged = job.kind == "ingest" and not job.options.get("dry_run")
    valid = scan.valid
    if job.kind == "ingest" and exact and valid_rows is not None:
        async with services.pool.acquire() as conn:
            left = await limits.items_left(conn, job.account_id, now)
        if valid > left:
            valid = await valid_rows()
    async with services.pool.acquire() as conn, conn.transaction():
        if job.kind == "ingest":
            if charged:
                fits = await limits.take_items(conn, job.account_id, valid, now) is not None
            else:  # a dry run: what would happen, without consuming the budget
                fits = await limits.items_left(conn, job.account_id, now) >= valid
            if not fits and not exact:
                return False
            if not fits:
                available = await limits.items_left(conn, job.account_id, now)
                raise Rejection(
                    "ACCOUNT_CAPACITY_EXCEEDED",
                    f"The job has {valid:,} valid rows but only {max(available, 0):,} of the "
                    f"{limits.ITEMS_PER_HOUR:,} items-per-hour budget are left",
                )
        await services.jobs.save_progress(
            conn, job, checkpoint_line=0, counts={**job.counts, "submitted": scan.total},
            progress=0, total_rows=scan.total,
            state={"budget_taken": valid if charged else 0, "budget_at": now.isoformat()},
        )  # fmt: skip
    return True


async def _settle_budget(services: Services, job: Job, total: int) -> None:
    """After the rows are written: give back the budget taken for rows that proved invalid
    (a streamed file reserved every row; a key that matches several items makes a row invalid
    only when it is matched). The budget is for valid rows, as monday counts it."""
    current = await services.jobs.get(job.id) or job
    taken = int(current.options.get("budget_taken") or 0)
    valid = total - int(current.counts.get("invalid", 0))
    if taken <= valid:
        return
    taken_at = datetime.fromisoformat(current.options["budget_at"])
    async with services.pool.acquire() as conn, conn.transaction():
        await limits.give_back_items(conn, job.account_id, taken - valid, taken_at)
        await services.jobs.save_progress(
            conn, job, checkpoint_line=current.checkpoint_line, counts=current.counts,
            progress=current.progress, total_rows=current.total_rows or 0,
            state={"budget_taken": valid},
        )  # fmt: skip


class Counted(Protocol):
    total: int

    @property
    def valid(self) -> int: ...


@dataclass
class Totals:
    """Rows of the parent file and of the subitems file together."""

    total: int
    valid: int


@dataclass
class Progress:
    """Rows done and their counts, as committed; kept in memory so that a chunk's checkpoint
    costs no query over the job's earlier rows."""

    total: int
    processed: int
    counts: dict[str, int]

    @property
    def percent(self) -> int:
        return min(99, self.processed * 100 // max(self.total, 1))

    def after(self, results: Sequence[RowResult], *, created: int = 0) -> Progress:
        """The progress once `results` and `created` rows more (counted only) are done."""
        counts = dict(self.counts)
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        counts["created"] = counts.get("created", 0) + created
        processed = self.processed + len(results) + created
        return Progress(total=self.total, processed=processed, counts=counts)

    def commit(self, done: Progress) -> None:
        self.processed, self.counts = done.processed, done.counts


async def _write(
    services: Services,
    job: Job,
    chunks: Callable[[set[int]], AsyncIterator[list[PlannedRow] | EncodedChunk]],
    total: int,
    replan: Callable[[list[int]], Awaitable[list[PlannedRow]]] | None = None,
    keys: KeyChanges | None = None,
) -> None:
    """Write (or, in a dry run, only record) planned rows, resuming after the lines done.
    `replan` turns an encoded chunk's lines back into planned rows, should the database
    refuse that chunk (or `keys` show it would create items others have created meanwhile)."""
    done_rows = await services.pool.fetch(Q["done_lines"], job.id)
    created = {r["line"]: r["item_id"] for r in done_rows if r["item_id"] is not None}
    done = {r["line"] for r in done_rows}
    target = ChunkTarget(
        job=job, group_id=job.group_id, log_activity=job.kind == "ingest", created=created,
        keep_cells=keeps_cells(job.options), keys=keys, copy_pause=await _copy_pause(services),
    )  # fmt: skip
    counts = await JobStore.outcome_counts(services.pool, job.id, total)
    progress = Progress(total=total, processed=len(done), counts=counts)
    async for chunk in chunks(done):
        if isinstance(chunk, EncodedChunk):
            refused = await _write_encoded_chunk(services, target, chunk, progress)
            if not refused:
                continue
            forget_encoded(target, chunk)
            assert replan is not None  # encoded chunks come from a stream that can replan
            replanned = await replan(chunk.lines) if chunk.lines else []
            chunk = sorted(replanned + chunk.others, key=lambda r: r.line)
        if job.options.get("dry_run"):
            await _record_plan(services, target, chunk, progress)
            continue
        for segment in _segments(chunk):
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


async def _checkpoint(
    services: Services, conn: Connection, job: Job, progress: Progress, results: list[RowResult]
) -> Progress:
    """In the rows' own transaction: counts and checkpoint, fenced by the attempt number;
    returns the progress to `commit` once the transaction has."""
    done = progress.after(results)
    await _save(services, conn, job, done, results[-1].line)
    return done


async def _save(
    services: Services, conn: Connection, job: Job, done: Progress, last_line: int
) -> None:
    await services.jobs.save_progress(
        conn, job, checkpoint_line=last_line, counts=done.counts, progress=done.percent,
        total_rows=done.total, state={},
    )  # fmt: skip


async def _attempt(
    services: Services,
    target: ChunkTarget,
    progress: Progress,
    write: Callable[[Connection, ChunkTarget, Rows, datetime], Awaitable[list[RowResult]]],
    rows: Rows,
    now: datetime,
    *,
    last_line: int,
    created: int = 0,
) -> asyncpg.PostgresError | None:
    """Write `rows` and the checkpoint in one transaction and commit the progress; return the
    error if the database refused them (everything rolled back). A result written already
    means another runner took the job over: StaleAttempt."""
    try:
        async with services.pool.acquire() as conn, conn.transaction():
            results = await write(conn, target, rows, now)
            done = progress.after(results, created=created)
            await _save(services, conn, target.job, done, last_line)
    except asyncpg.UniqueViolationError as exc:
        raise StaleAttempt(str(target.job.id)) from exc
    except (asyncpg.TransactionRollbackError, asyncpg.OperatorInterventionError):
        # transient, not a refusal of these rows (is_transient): a deadlock, or the chunk's
        # connection ended by an administrator or by another process's watchdog
        raise
    except asyncpg.InsufficientResourcesError:
        # the database's disk is full: no refusal of these rows, which would otherwise be
        # tried one by one and reported failed; the job is retried (diskfull)
        raise
    except asyncpg.PostgresError as exc:
        return exc
    progress.commit(done)
    return None


async def _write_encoded_chunk(
    services: Services, target: ChunkTarget, chunk: EncodedChunk, progress: Progress
) -> bool:
    """Write an encoded chunk in one transaction; True if the database refused it, or its
    new items' keys are taken meanwhile (KeysChanged: its rows are to be matched again)."""
    try:
        error = await _attempt(
            services, target, progress, write_encoded_chunk, chunk, services.clock.now(),
            last_line=chunk.last_line, created=len(chunk.lines),
        )  # fmt: skip
    except KeysChanged:
        return True
    if error is None:
        return False
    logger.warning(
        "encoded chunk refused, planning its rows again",
        extra={"job_id": str(target.job.id), "action": "write_chunk", "error": str(error)},
    )
    return True


async def _record_plan(
    services: Services, target: ChunkTarget, chunk: list[PlannedRow], progress: Progress
) -> None:
    """A dry run: every row's would-be outcome goes to the report; the board is not touched."""
    results = [
        RowResult(line=r.line, status=r.status, item_id=r.item_id, errors=r.errors, cells=r.cells)
        for r in chunk
    ]
    async with services.pool.acquire() as conn, conn.transaction():
        # fenced and named as a chunk: a process frozen in the results' COPY is the watchdog's
        await JobStore.fence(conn, target.job)
        await services.jobs.insert_row_results(conn, target.job, results)
        done = await _checkpoint(services, conn, target.job, progress, results)
    progress.commit(done)


async def _write_chunk(
    services: Services, target: ChunkTarget, chunk: list[PlannedRow], progress: Progress
) -> None:
    now = services.clock.now()
    error = await _attempt(
        services, target, progress, write_chunk, chunk, now, last_line=chunk[-1].line
    )
    if error is None:
        return
    logger.warning(
        "chunk refused, retrying row by row",
        extra={"job_id": str(target.job.id), "action": "write_chunk", "error": str(error)},
    )
    forget_created(target, chunk)
    for row in chunk:
        error = await _attempt(
            services, target, progress, write_chunk, [row], now, last_line=row.line
        )
        if error is None:
            continue
        # the row's item was rolled back: a later row repeating its key must create it
        forget_created(target, [row])
        row.item_id = None
        results = [failed_result(row, error)]
        async with services.pool.acquire() as conn, conn.transaction():
            await JobStore.fence(conn, target.job)  # as in _record_plan
            await services.jobs.insert_row_results(conn, target.job, results)
            done = await _checkpoint(services, conn, target.job, progress, results)
        progress.commit(done)


async def _complete(
    services: Services,
    job: Job,
    header: csvfile.Header,
    child_scan: worker.ChildSummary | None,
    total: int,
    tmp: Path,
) -> None:
    counts = await JobStore.outcome_counts(services.pool, job.id, total)
    clean = bool(job.options.get("report") == "ALL_ROWS" or job.options.get("dry_run"))
    parents = range(subitems.CHILD_LINE_OFFSET)
    report_key = await _put_report(
        services, tmp, f"{REPORT_PREFIX}{job.id}.csv", header.names,
        _report_pages(services, job, clean=clean, lines=parents),
        named=not job.options.get("field_mappings"),
    )  # fmt: skip
    if child_scan is not None:
        children = _report_pages(
            services, job, clean=clean, lines=range(subitems.CHILD_LINE_OFFSET, 2**31 - 1)
        )
        child_key = await _put_report(
            services, tmp, subitems.report_key(job), child_scan.header_names, children,
            line_offset=subitems.CHILD_LINE_OFFSET,
        )  # fmt: skip
        await services.jobs.merge_options(job, {"subitems_report": child_key is not None})
    await services.jobs.finish(
        job, status="COMPLETED", counts=counts, progress=100, now=services.clock.now(),
        report_key=report_key, total_rows=total,
    )  # fmt: skip


async def _report_pages(
    services: Services, job: Job, *, clean: bool, lines: range
) -> AsyncIterator[list[RowResult]]:
    """The job's row results with lines in `lines`, a page at a time: a page starts at one
    row and doubles up to REPORT_PAGE_ROWS while its cells stay under planning.CHUNK_BYTES
    (a row of a million cells is a page of its own)."""
    limit, after = 1, lines.start - 1
    while True:
        page = await services.jobs.row_results_page(
            job.id, clean=clean, lines=range(after + 1, lines.stop), limit=limit
        )
        if not page:
            return
        yield page
        after = page[-1].line
        weight = sum(planning.cells_size(r.cells) for r in page)
        limit = batching.next_size(limit, weight, REPORT_PAGE_ROWS, planning.CHUNK_BYTES)


async def _put_report(
    services: Services,
    tmp: Path,
    key: str,
    header: list[str],
    pages: AsyncIterator[list[RowResult]],
    *,
    named: bool = True,
    line_offset: int = 0,
) -> str | None:
    """Write the report a page of rows at a time (in a thread) and store it; None if it
    has no rows. `line_offset` is taken off each row's stored line."""
    rows = await anext(pages, None)
    if rows is None:
        return None
    path = tmp / key.replace("/", "_")
    faults.check_scratch_write("report", path)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = report.Report(out, header, named=named)
        while rows is not None:
            if line_offset:
                rows = [dataclasses.replace(r, line=r.line - line_offset) for r in rows]
            await asyncio.to_thread(writer.write_rows, rows)
            rows = await anext(pages, None)
    await services.storage.put_file(key, str(path))
    return key
