"""CSV parsing and cell validation in a separate process.

Parsing a file is pure CPU work. In a thread it shares the interpreter lock with the event
loop, so every API request waits while an import runs (measured: p99 of `fetch_job_status`
went from ~50 ms to ~500 ms). In a worker process it runs on its own core and the server
process only writes the planned chunks.

The worker keeps each job's scan between calls (a *session*, keyed by a token), so the scan
results and the parsed rows never cross the process boundary; only chunks of planned rows (or
of Blue records) do, a few hundred rows at a time, as files. One worker process serves every
job of a server process: its sessions live in that process, and calls of one job run in order.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import gc
import itertools
import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from server import faults
from server.imports import cells, copyformat, csvfile, phones, rows, subitems
from server.imports.planning import (
    Plan,
    Scan,
    count_rows,
    plan_chunks,
    plan_row,
    scan_file,
    stream_chunks,
    validated_chunks,
)
from server.imports.rows import ParsedRow, RowParser, encode_document
from server.imports.writer import EncodedChunk, PlannedRow, keeps_cells

logger = logging.getLogger(__name__)

MAX_RELATION_COLUMNS = 5  # board relation columns per file
# An import allocates millions of short-lived objects: collecting the young generation every
# 700 allocations (Python's default) cost about a third of parsing time in the benchmark.
# Set in the server process (server/__main__.py) and in the parsing worker.
GC_THRESHOLDS = (50_000, 20, 20)  # allocations, then collections of the younger generation
WORKER_NICENESS = 10  # added to the worker's nice value: a lower CPU priority
AHEAD_CHUNKS = 4  # chunks the worker may plan before the server process writes them
PARENT_CHECK_SECONDS = 0.5  # how soon a worker notices its server process died

P = ParamSpec("P")
R = TypeVar("R")


class WorkerLost(OSError):
    """The worker process died (killed, out of memory): transient, the job resumes later."""


@dataclass(kw_only=True)
class ParserSpec:
    """What the worker needs to build a job's RowParser from the file's header: plain data,
    so it can be sent to the worker process."""

    columns: dict[str, cells.Column]
    directory: cells.Directory
    hierarchy_levels: int
    options: dict[str, Any]

    @property
    def behaviour(self) -> str | None:
        value = (self.options.get("on_match") or {}).get("behaviour")
        return str(value) if value else None

    @property
    def match_column(self) -> str | None:
        value = (self.options.get("on_match") or {}).get("match_column_id")
        return str(value) if value else None

    @property
    def matches_item_id(self) -> bool:
        """Rows match items by item id (`match_column_id: "id"`, no column of that id)."""
        return self.match_column == csvfile.ITEM_ID_KEY and csvfile.ITEM_ID_KEY not in self.columns

    @property
    def parents_by_item_id(self) -> bool:
        """Child rows name their parent by item id (`parent_key_column_id: "id"`, no column
        of that id): Zoho's Parent_Id found by id."""
        key_column = (self.options.get("subitems") or {}).get("parent_key_column_id")
        return key_column == csvfile.ITEM_ID_KEY and csvfile.ITEM_ID_KEY not in self.columns

    def relations_in(self, header: csvfile.Header) -> frozenset[str]:
        """The board relation columns a file's header sets."""
        return frozenset(
            c for c in header.column_of_index.values() if self.columns[c].type == "board_relation"
        )

    def make_parser(self, header_cells: list[str]) -> RowParser:
        """The parser for a file starting with `header_cells`; InvalidUpload for a bad header."""
        own = {c: c for c in self.columns}
        defaults: dict[int, str] = {}
        key = csvfile.ITEM_ID_KEY if self.matches_item_id else None
        if self.options.get("field_mappings"):
            header, defaults = csvfile.header_from_mappings(
                header_cells, self.options["field_mappings"], own, self.hierarchy_levels, key
            )
        else:
            header = csvfile.parse_header(header_cells, own, self.hierarchy_levels, key=key)
        in_header = set(header.column_of_index.values())
        check_relations(self.relations_in(header), "The file has")
        match_column = self.match_column
        if key is not None:
            if header.key_index is None:
                raise csvfile.InvalidUpload(
                    "The file has no 'id' column of item ids to match on (match_column_id 'id')"
                )
        elif match_column and match_column != "name" and match_column not in in_header:
            raise csvfile.InvalidUpload(f"The match column {match_column!r} is not in the header")
        key_column = (self.options.get("subitems") or {}).get("parent_key_column_id")
        by_key = key_column and key_column != "name" and not self.parents_by_item_id
        if by_key and key_column not in in_header:
            raise csvfile.InvalidUpload(
                f"The parent key column {key_column!r} is not in the header"
            )
        parser = RowParser(
            header, self.columns, self.directory,
            clear_with_null=self.behaviour in ("UPSERT", "UPDATE"),
            clear_empty=self.options.get("ignore_empty") is False, defaults=defaults,
            name_optional=self.behaviour is not None,
        )  # fmt: skip
        refused = parser.invalid_default()
        if refused is not None:
            column_id, default, error = refused
            shown = default[: rows.MAX_ERROR_VALUE] + (
                "..." if len(default) > rows.MAX_ERROR_VALUE else ""
            )
            raise csvfile.InvalidUpload(
                f"Field mapping for {column_id!r}: default_value {shown!r} is not valid for the "
                f"column: {error.code}: {error.message}"
            )
        return parser


def check_relations(relations: frozenset[str], files: str) -> None:
    """monday's "up to 5 Board Relation columns in a single import": InvalidUpload past it."""
    if len(relations) > MAX_RELATION_COLUMNS:
        raise csvfile.InvalidUpload(
            f"{files} {len(relations)} board relation columns; "
            f"at most {MAX_RELATION_COLUMNS} per import"
        )


@dataclass(frozen=True)
class ScanSummary:
    """What the server process needs of a scan: the header and the row counts."""

    header: csvfile.Header
    total: int
    valid: int


@dataclass(frozen=True)
class Counted:
    """The first look at a file: its header, and its rows if it can be streamed (a file with a
    hierarchy is not counted: None)."""

    header: csvfile.Header
    total: int | None


@dataclass
class _Session:
    scan: Scan
    parser: RowParser
    path: Path
    spec: ParserSpec
    records: list[tuple[int, list[str]]] | None = None  # what `count` read, when it kept them
    plan: Plan | None = None  # a streamed file's plan, for `replan`


@dataclass
class _Stream:
    """Chunks being planned (a monday file) or parsed (a Blue file), handed out as files."""

    chunks: Iterator[Any]  # lists of planned rows or records, or EncodedChunks
    folder: Path
    written: int = 0  # chunk files handed out


# In the worker process: the open sessions and chunk streams, by token.
_sessions: dict[str, _Session] = {}
_children: dict[str, tuple[subitems.ChildScan, Path]] = {}
_streams: dict[str, _Stream] = {}


def scan(token: str, path: Path, spec: ParserSpec, limit: int) -> ScanSummary:
    """Validate the whole file and keep the result for `plan`; raises InvalidUpload/Rejection."""
    _sessions.pop(token, None)
    result, parser = scan_file(path, spec.make_parser, limit)
    _sessions[token] = _Session(scan=result, parser=parser, path=path, spec=spec)
    return ScanSummary(header=parser.header, total=result.total, valid=result.valid)


def count(token: str, path: Path, spec: ParserSpec, limit: int) -> Counted:
    """The quick first pass (`count_rows`); keeps the parser for `stream`."""
    _sessions.pop(token, None)
    counted = count_rows(path, spec.make_parser, limit)
    parser = counted.parser
    _sessions[token] = _Session(
        scan=Scan(header=parser.header), parser=parser, path=path, spec=spec,
        records=counted.records,
    )  # fmt: skip
    return Counted(header=parser.header, total=counted.total)


def _plan(session: _Session, job: Any, board: Any, matches: dict[str, list[int | str]]) -> Plan:
    return Plan(
        job=job, board=board, parser=session.parser, scan=session.scan,
        behaviour=session.spec.behaviour, match_column=session.spec.match_column,
        matches=matches,
    )  # fmt: skip


def count_creates(token: str, job: Any, board: Any, matches: dict[str, list[int | str]]) -> int:
    """How many of the scanned file's rows would create an item (the others update, skip or
    are invalid)."""
    return _planned_outcomes(token, job, board, matches)["created"]


def count_valid(token: str, job: Any, board: Any, matches: dict[str, list[int | str]]) -> int:
    """How many of the scanned file's rows are valid once matched: planning makes a row whose
    key matches several items invalid, and so one that would create an item without a name."""
    outcomes = _planned_outcomes(token, job, board, matches)
    return outcomes.total() - outcomes["invalid"]


def _planned_outcomes(
    token: str, job: Any, board: Any, matches: dict[str, list[int | str]]
) -> collections.Counter[str]:
    """Each outcome's rows in the scanned file, planned as `plan` will plan them, on a copy of
    `matches`, writing nothing."""
    session = _sessions[token]
    plan = _plan(session, job, board, dict(matches))  # planning adds the file's own keys
    plan.scan = replace(session.scan, parsed=dict(session.scan.parsed))
    return collections.Counter(
        row.status for chunk in plan_chunks(plan, session.path, set()) for row in chunk
    )


def plan(
    token: str, job: Any, board: Any, matches: dict[str, list[int | str]], done: set[int]
) -> None:
    """Start planning the scanned file's chunks, skipping the lines already written."""
    session = _sessions[token]
    chunks = plan_chunks(_plan(session, job, board, matches), session.path, done)
    _streams[token] = _Stream(chunks=chunks, folder=session.path.parent)


def stream(
    token: str,
    job: Any,
    board: Any,
    matches: dict[str, list[int | str]],
    done: set[int],
    part: int = 0,
    parts: int = 1,
) -> None:
    """Start validating and planning the counted file in one pass (`stream_chunks`): all of
    it, or this worker's part of its chunks."""
    session = _sessions[token]
    kept, session.records = session.records, None
    _open_stream(token, session, job, board, matches, done, kept, part, parts)


@dataclass(frozen=True)
class SharedFile:
    """A counted create-only file whose chunks several workers share (`shared_chunks`)."""

    path: Path
    spec: ParserSpec
    job: Any
    board: Any
    done: set[int]  # lines written before (a resumed job)


def join_stream(token: str, shared: SharedFile, part: int, parts: int) -> None:
    """In a helper worker: take a part of the chunks of a create-only file another worker
    has counted (`count`), reading the file itself."""
    parser = shared.spec.make_parser(next(csvfile.read_records(shared.path))[1])
    session = _Session(
        scan=Scan(header=parser.header), parser=parser, path=shared.path, spec=shared.spec
    )
    _sessions[token] = session
    _open_stream(token, session, shared.job, shared.board, {}, shared.done, None, part, parts)


def _open_stream(
    token: str,
    session: _Session,
    job: Any,
    board: Any,
    matches: dict[str, list[int | str]],
    done: set[int],
    kept: list[tuple[int, list[str]]] | None,
    part: int,
    parts: int,
) -> None:
    session.scan = Scan(header=session.parser.header)
    plan = session.plan = _plan(session, job, board, matches)
    chunks: Iterator[Any]
    if encodes_creates(session.spec):
        tail = copyformat.ItemTail(
            board_id=job.board_id, group_id=job.group_id, creator_id=job.user_id
        )
        chunks = encoded_chunks(plan, tail, session.path, done, kept, part=part, parts=parts)
    else:
        chunks = stream_chunks(plan, session.path, done, kept, part=part, parts=parts)
    _streams[token] = _Stream(chunks=chunks, folder=session.path.parent)


def encodes_creates(spec: ParserSpec) -> bool:
    """A job whose report lists no clean row: its created rows are encoded for COPY."""
    return not keeps_cells(spec.options)


def shares_chunks(spec: ParserSpec) -> bool:
    """A create-only `encodes_creates` job: its chunks can be shared between worker processes
    (no row depends on another; a row matched by key depends on the rows before it)."""
    return spec.behaviour is None and encodes_creates(spec)


def encoded_chunks(
    plan: Plan,
    tail: copyformat.ItemTail,
    path: Path,
    done: set[int],
    kept: list[tuple[int, list[str]]] | None,
    *,
    part: int = 0,
    parts: int = 1,
) -> Iterator[EncodedChunk]:
    """`stream_chunks` for a flat file, its created rows encoded for COPY."""
    each = _encoded_row if plan.behaviour is None else _encoded_match
    validated = validated_chunks(
        plan, path, done, kept, part=part, parts=parts, each=functools.partial(each, plan, tail)
    )
    return (_encoded(chunk) for chunk in validated)


def _encoded_row(
    plan: Plan, tail: copyformat.ItemTail, line: int, record: list[str], parsed: ParsedRow | None
) -> tuple[int, bytes] | PlannedRow:
    """A row of a create-only flat file: a valid one is created at level 1, encoded for COPY
    as it is (no planned row built: 2 of the worker's 35 microseconds a row); an invalid one
    is planned for the report."""
    if parsed is None:
        return plan_row(plan, line, record, None)
    return line, tail.encode(parsed.name, encode_document(parsed.values))


def _encoded_match(
    plan: Plan, tail: copyformat.ItemTail, line: int, record: list[str], parsed: ParsedRow | None
) -> tuple[int, bytes] | PlannedRow:
    """A row of a flat file matched by key (`on_match`): planned, and encoded for COPY when
    it creates an item (a top-level one: the file is flat)."""
    row = plan_row(plan, line, record, parsed, encoded=True)
    if row.status != "created" or row.document is None:
        return row
    return line, tail.encode(row.name, row.document)


def _encoded(chunk: list[tuple[int, bytes] | PlannedRow]) -> EncodedChunk:
    """A chunk's rows as `_encoded_row` or `_encoded_match` left them, gathered into one
    EncodedChunk."""
    last = chunk[-1]
    encoded = EncodedChunk(
        lines=[],
        tails=[],
        others=[],
        last_line=last.line if isinstance(last, PlannedRow) else last[0],
    )
    for row in chunk:
        if isinstance(row, PlannedRow):
            encoded.others.append(row)
        else:
            encoded.lines.append(row[0])
            encoded.tails.append(row[1])
    return encoded


def replan(token: str, lines: list[int]) -> Path:
    """Plan the streamed file's `lines` again as plain rows, cells included (for a writer
    whose encoded chunk the database refused); return them as a chunk file."""
    session = _sessions[token]
    assert session.plan is not None  # streamed
    wanted = set(lines)
    rows = [
        plan_row(session.plan, line, record, None)
        for line, record in csvfile.read_records(session.path)
        if line in wanted
    ]
    return _write_chunk_file(session.path.parent, f"replanned-{lines[0]}", rows)


def open_records(
    token: str, path: Path, header: Any, directory: cells.Directory, people: Any, done: set[int]
) -> None:
    """Start parsing a Blue file's records (`server.imports.blue.record_chunks`)."""
    # imported here, in the worker only: the Blue module imports the server's services
    from server.imports import blue

    parsers = {
        i: rows.remembering(cells.compile_parser(c, directory, trimmed=True))
        for i, c in header.columns.items()
    }
    chunks = blue.record_chunks(path, header, parsers, people, done)
    _streams[token] = _Stream(chunks=chunks, folder=path.parent)


@dataclass(frozen=True)
class ChildSummary:
    """What the server process needs of a subitems file's scan."""

    header_names: list[str]
    total: int
    valid: int


def scan_children(
    token: str,
    path: Path,
    spec: ParserSpec,
    key_header: str,
    limit: int,
    main_relations: frozenset[str] = frozenset(),
) -> ChildSummary:
    """Validate a subitems file (`server.imports.subitems.scan_children`); keep it for
    `plan_children`. `main_relations`: the board relation columns of the job's main file,
    which count with the child file's towards the limit of one import."""

    def make_parser(header_cells: list[str], key: str) -> RowParser:
        header = csvfile.parse_header(
            header_cells, {c: c for c in spec.columns}, 1, frozenset({key})
        )
        check_relations(main_relations | spec.relations_in(header), "The two files have")
        # a matched subitem's cells clear as a matched item's do
        return RowParser(
            header, spec.columns, spec.directory,
            clear_with_null=spec.behaviour in ("UPSERT", "UPDATE"),
            clear_empty=spec.options.get("ignore_empty") is False,
        )  # fmt: skip

    scan = subitems.scan_children(
        path, make_parser, key_header, limit, by_item_id=spec.parents_by_item_id
    )
    _children[token] = (scan, path)
    return ChildSummary(header_names=scan.parser.header.names, total=scan.total, valid=scan.valid)


def plan_children(
    token: str,
    parents: dict[str, list[subitems.Parent]],
    lost: dict[str, tuple[int, str]],
    done: set[int],
) -> None:
    """Start planning the scanned subitems file's rows under the parents' items (`lost`:
    key -> the parent row that became no item, for the report)."""
    scan, path = _children[token]
    chunks = subitems.plan_children(scan, path, parents, lost, done)
    _streams[token] = _Stream(chunks=chunks, folder=path.parent)


def invalid_rows(token: str) -> int:
    """Rows the session's scan found invalid so far."""
    return len(_sessions[token].scan.invalid)


def next_chunk(token: str, fail: int | None = None) -> Path | None:
    """Plan the next chunk into a file beside the upload; return its path (None at the end).
    `fail`: an errno its write is to fail with (an injected full disk).

    Only the short path crosses the pool's result pipe: a worker killed in the middle of
    sending a large result would leave a partial message there, and the pool would wait for
    the rest of it for ever instead of reporting the worker dead.
    """
    stream = _streams[token]
    chunk = next(stream.chunks, None)
    if chunk is None:
        return None
    stream.written += 1
    # named by process: the workers sharing a file write their chunks into one folder
    name = f"chunk-{os.getpid()}-{stream.written:06d}"
    return _write_chunk_file(stream.folder, name, chunk, fail)


def _write_chunk_file(folder: Path, name: str, chunk: Any, fail: int | None = None) -> Path:
    """Write `chunk` under its name only once it is whole. `fail`: an errno to fail with
    halfway, as a disk that fills up while the file is written."""
    path = folder / f"{name}.pickle"
    partial = path.with_suffix(".partial")
    data = pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        with partial.open("wb") as out:
            out.write(data if fail is None else data[: len(data) // 2])
            if fail is not None:
                out.flush()
                raise OSError(fail, os.strerror(fail), str(partial))
    except OSError:
        # a full disk (ENOSPC, EDQUOT): no half-written chunk file stays behind
        partial.unlink(missing_ok=True)
        raise
    partial.rename(path)
    return path


def _load_chunk(path: Path) -> Any:
    try:
        chunk = pickle.loads(path.read_bytes())
    finally:
        path.unlink(missing_ok=True)
    return chunk


def close(token: str) -> None:
    _sessions.pop(token, None)
    _children.pop(token, None)
    _streams.pop(token, None)


def _ready() -> int:
    return multiprocessing.current_process().pid or 0


def _start_worker(parent: int) -> None:
    """In the worker: yield the CPU to the server process (API requests and the writes come
    first when both cores are busy); collect garbage as rarely as the server does (parsing
    makes millions of small objects: with the default thresholds a scan ran 1.4 times
    slower); exit with the server; read the phone rules before the first import needs them."""
    os.nice(WORKER_NICENESS)
    gc.set_threshold(*GC_THRESHOLDS)
    _exit_with_parent(parent)
    phones.prepare()


def _exit_with_parent(parent: int) -> None:
    """Exit when the server process is gone, even if it was SIGKILLed. (The pool's queues
    cannot tell: the worker holds both ends of their pipes itself.)"""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class ParsePool:
    """The server process's side: one spawned worker process, started on first use (or by
    `start`), replaced when it dies."""

    def __init__(self) -> None:
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            # spawn: the server process runs threads and an event loop, which fork would copy
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._executor

    async def start(self) -> int:
        """Start the worker now rather than on the first import; return its pid."""
        return await self.call(_ready)

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        assert not kwargs
        executor = self._pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except concurrent.futures.process.BrokenProcessPool as exc:
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise WorkerLost("The parsing worker process died") from exc

    def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


async def replanned(pool: ParsePool, token: str, lines: list[int]) -> list[PlannedRow]:
    """`replan` in the worker, its chunk loaded."""
    path = await pool.call(replan, token, lines)
    rows: list[PlannedRow] = await asyncio.to_thread(_load_chunk, path)
    return rows


async def chunks_of(
    pool: ParsePool, start: Callable[..., None], token: str, *args: Any
) -> AsyncIterator[Any]:
    """Open a chunk stream in the worker (`start`: `plan`, `stream`, `plan_children` or
    `open_records`, called with the token and `args`), then its chunks; the worker plans up to
    AHEAD_CHUNKS chunks ahead while the caller writes, so neither waits for the other."""
    await pool.call(start, token, *args)
    async for chunk in _chunks_from([pool], token):
        yield chunk


async def shared_chunks(
    pools: Sequence[ParsePool], token: str, shared: SharedFile
) -> AsyncIterator[Any]:
    """The chunks of a counted create-only file (`shares_chunks`), planned by several
    workers at once: the first, which counted it, takes chunks 0, n, 2n...; each helper i
    reads the file too and takes chunks i, n + i... They come back in file order."""
    parts = len(pools)
    await pools[0].call(stream, token, shared.job, shared.board, {}, shared.done, 0, parts)
    for part, helper in enumerate(pools[1:], start=1):
        await helper.call(join_stream, token, shared, part, parts)
    async for chunk in _chunks_from(pools, token):
        yield chunk


async def _chunks_from(pools: Sequence[ParsePool], token: str) -> AsyncIterator[Any]:
    """Chunk i from pool i % len(pools), each pool planning up to AHEAD_CHUNKS ahead."""

    def planned(pool: ParsePool) -> asyncio.Future[Path | None]:
        # a "scratch_chunk" fault armed for this job fails the first chunk file's write
        return asyncio.ensure_future(pool.call(next_chunk, token, faults.scratch_errno("chunk")))

    pending = [collections.deque(planned(pool) for _ in range(AHEAD_CHUNKS)) for pool in pools]
    try:
        for index in itertools.count():
            part = index % len(pools)
            path = await pending[part].popleft()
            if path is None:  # that pool's share has ended: so has the file
                return
            pending[part].append(planned(pools[part]))
            yield await asyncio.to_thread(_load_chunk, path)
    finally:
        for future in itertools.chain.from_iterable(pending):
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: an error after the caller stopped is not news
