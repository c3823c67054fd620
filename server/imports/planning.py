"""Planning an import from its file: the scan that validates every row before anything is
written, and the re-read that turns valid rows into planned writes, a chunk at a time."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from server.imports import csvfile
from server.imports.matchkeys import multiple_matches
from server.imports.rows import MISSING_NAME, ParsedRow, RowParser, encode_document, errors_json
from server.imports.writer import PlannedRow
from server.store.jobs import Job
from server.store.records import Board

# Rows per write transaction: each costs a handful of round trips and a commit, so chunks are
# large; a chunk of long rows ends at CHUNK_BYTES of cells, so memory stays bounded.
CHUNK_ROWS = 1000
CHUNK_BYTES = 4 * 1024 * 1024
# Each cell costs a reference and an object in every copy of a chunk (the worker's, its
# pickle, the server's), whatever its length: counted by characters alone, a row of a million
# empty cells weighed nothing, and a chunk of 40 of them grew the server by 426 MB.
CELL_BYTES = 16
# The first chunk is smaller, and each next one twice as large up to CHUNK_ROWS: the database
# waits idle until the parsing worker hands over the first chunk, which a 1,000-row chunk
# delays by 30-50 ms (measured by `python -m bench`).
FIRST_CHUNK_ROWS = 250
T = TypeVar("T")
KEEP_PARSED_BYTES = 32 * 1024 * 1024  # bytes: files up to this size are parsed once, not twice


class Rejection(Exception):
    """The job is refused before anything is written: REJECTED with a failure reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[Rejection], tuple[str, str]]:
        return Rejection, (self.reason, self.message)  # raised in the parsing worker process


@dataclass
class Scan:
    header: csvfile.Header
    total: int = 0
    invalid: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    parent_of: dict[int, int] = field(default_factory=dict)  # MLS: line -> parent line
    # valid rows as the scan parsed them, so the write pass need not parse them again;
    # kept only for files small enough to hold (see KEEP_PARSED_BYTES)
    parsed: dict[int, ParsedRow] = field(default_factory=dict)

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


def _open(path: Path, parser_factory: Any) -> tuple[Iterator[tuple[int, list[str]]], RowParser]:
    records = csvfile.read_records(path)
    first = next(records, None)
    if first is None:
        raise csvfile.InvalidUpload("The file is empty: expected a header row starting with 'name'")
    parser: RowParser = parser_factory(first[1])
    return records, parser


def _over_limit(limit: int) -> Rejection:
    return Rejection(
        "INVALID_UPLOAD",
        f"The file has more than {limit:,} data rows, the most one job accepts; split it",
    )


@dataclass
class CountPass:
    total: int | None  # None: not counted, the file has a hierarchy and is scanned whole
    parser: RowParser
    # the records read, for files small enough to hold (KEEP_PARSED_BYTES), so that
    # `stream_chunks` need not read them again
    records: list[tuple[int, list[str]]] | None


def count_rows(path: Path, parser_factory: Any, limit: int) -> CountPass:
    """The cheap first look: header, encoding and CSV structure checked, rows counted. What it
    raises would reject the whole file; what it passes can only fail row by row. A file that
    cannot be streamed is only opened: the full scan that follows checks and counts it."""
    records, parser = _open(path, parser_factory)
    if not can_stream(parser.header):
        return CountPass(total=None, parser=parser, records=None)
    kept: list[tuple[int, list[str]]] | None = (
        [] if path.stat().st_size <= KEEP_PARSED_BYTES else None
    )
    total = 0
    for record in records:
        total += 1
        if total > limit:
            raise _over_limit(limit)
        if kept is not None:
            kept.append(record)
    return CountPass(total=total, parser=parser, records=kept)


def _released(records: list[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    """The records in order, each let go of as it is handed out."""
    records.reverse()
    while records:
        yield records.pop()


class RowValidator:
    """Validates rows in file order, recording invalid rows and MLS parents in a Scan."""

    def __init__(self, parser: RowParser, scan: Scan) -> None:
        self.parser = parser
        self.scan = scan
        # MLS: the latest row at each level, valid or not, with whether it set rollup columns (kept
        # only where rows can have parents: about 0.7 µs a row otherwise spent for nothing)
        self.latest: dict[int, tuple[int, bool]] = {}
        self.multilevel = parser.header.is_multilevel

    def validate(self, line: int, record: list[str]) -> ParsedRow | None:
        """The parsed row, or None when the row is invalid (its errors are in the scan)."""
        parser, scan = self.parser, self.scan
        scan.total += 1
        parsed = parser.parse(line, record)
        if not isinstance(parsed, ParsedRow):
            scan.invalid[line] = errors_json(parsed)
            # it is still the most recent row at its level, so the rows that name it as their
            # parent are invalid rather than moved under an older one; a row naming several
            # levels stands at the shallowest
            level = parser.level_of(record) if self.multilevel else None
            if level is not None:
                self.latest[level] = (line, False)
            return None
        if parsed.level > 1:
            parent = self.latest.get(parsed.level - 1)
            if parent is None:
                scan.invalid[line] = [
                    {"column_id": "name", "code": "MISSING_PARENT",
                     "message": f"No row at level {parsed.level - 1} comes before this one"}
                ]  # fmt: skip
                return None
            if parent[0] in scan.invalid:
                scan.invalid[line] = [
                    {"column_id": "name", "code": "MISSING_PARENT",
                     "message": f"The parent row at level {parsed.level - 1} (line {parent[0]}) is invalid"}
                ]  # fmt: skip
                return None
            if parent[1]:
                scan.invalid[parent[0]] = [
                    {"column_id": "", "code": "ROLLUP_ON_PARENT",
                     "message": "A parent row may not set rollup columns; they are computed from its children"}
                ]  # fmt: skip
                scan.invalid[line] = [
                    {"column_id": "name", "code": "MISSING_PARENT",
                     "message": f"The parent row at line {parent[0]} is invalid"}
                ]  # fmt: skip
                return None
            scan.parent_of[line] = parent[0]
        if self.multilevel:
            # monday's rule: "A row's parent is the most recent earlier row at the previous
            # level", whatever shallower rows came between them (no outline branches)
            self.latest[parsed.level] = (line, parser.sets_rollup(parsed))
        return parsed


def scan_file(path: Path, parser_factory: Any, limit: int) -> tuple[Scan, RowParser]:
    """Validate the whole file; raise InvalidUpload or Rejection for a file that cannot go in."""
    keep_parsed = path.stat().st_size <= KEEP_PARSED_BYTES
    records, parser = _open(path, parser_factory)
    scan = Scan(header=parser.header)
    validator = RowValidator(parser, scan)
    for line, record in records:
        if scan.total >= limit:
            raise _over_limit(limit)
        parsed = validator.validate(line, record)
        if keep_parsed and parsed is not None:
            scan.parsed[line] = parsed
    return scan, parser


def stream_chunks(
    plan: Plan,
    path: Path,
    done: set[int],
    kept: list[tuple[int, list[str]]] | None = None,
    *,
    part: int = 0,
    parts: int = 1,
) -> Iterator[list[PlannedRow]]:
    """One pass that validates and plans each row, a chunk at a time (`validated_chunks`)."""
    return validated_chunks(
        plan, path, done, kept, part=part, parts=parts, each=functools.partial(plan_row, plan)
    )


def validated_chunks(
    plan: Plan,
    path: Path,
    done: set[int],
    kept: list[tuple[int, list[str]]] | None,
    *,
    part: int,
    parts: int,
    each: Callable[[int, list[str], ParsedRow | None], T],
) -> Iterator[list[T]]:
    """One pass that validates each row and hands it to `each` (with its parse, or None when
    it is invalid: its errors are in the scan), a chunk at a time, for a file whose rows
    cannot change each other's validity (no hierarchy: see `can_stream`) and which
    `count_rows` has already checked as a whole (and whose records it `kept`, if it did).
    A row's parse is let go of at once: a chunk of them alive made each collection of the
    young generation slower.

    With `parts`, several processes share the file: each reads all of it, but validates only
    every `parts`-th chunk from its `part` on (chunk boundaries depend on the records alone,
    so every part draws the same ones)."""
    validator = RowValidator(plan.parser, plan.scan)
    if kept is not None:
        records = _released(kept)
    else:
        records = csvfile.read_records(path)
        next(records)  # header

    def pending() -> Iterator[tuple[int, list[str]]]:
        for line, record in records:
            if line not in done:
                yield line, record
            elif part == 0:  # a row written before still counts, once, in the scan
                validator.validate(line, record)

    for index, batch in enumerate(chunked(pending(), _record_size)):
        if index % parts == part:
            yield [each(line, record, validator.validate(line, record)) for line, record in batch]


def _record_size(record: tuple[int, list[str]]) -> int:
    return cells_size(record[1])


def planned_size(row: PlannedRow) -> int:
    return cells_size(row.cells)


def cells_size(cells: list[str]) -> int:
    """What a row's cells weigh in a chunk: their characters, and CELL_BYTES for each cell."""
    return sum(map(len, cells)) + CELL_BYTES * len(cells)


def chunked(items: Iterable[T], size: Callable[[T], int]) -> Iterator[list[T]]:
    """Items in chunks of FIRST_CHUNK_ROWS, then twice as many each time up to CHUNK_ROWS; a
    chunk ends sooner once its items' `size` (bytes of cells) reaches CHUNK_BYTES."""
    chunk: list[T] = []
    total = 0
    rows = min(FIRST_CHUNK_ROWS, CHUNK_ROWS)
    for item in items:
        chunk.append(item)
        total += size(item)
        if len(chunk) >= rows or total >= CHUNK_BYTES:
            yield chunk
            chunk, total = [], 0
            rows = min(2 * rows, CHUNK_ROWS)
    if chunk:
        yield chunk


def can_stream(header: csvfile.Header) -> bool:
    """Without a hierarchy a row's validity depends on that row alone (a parent row, by
    contrast, becomes invalid when a later child sets its rollup columns)."""
    return not header.is_multilevel


def plan_chunks(plan: Plan, path: Path, done: set[int]) -> Iterator[list[PlannedRow]]:
    """Valid rows re-parsed and matched, a chunk at a time; lines already written skipped."""
    records = csvfile.read_records(path)
    next(records)  # header
    return chunked(
        (
            plan_row(plan, line, record, plan.scan.parsed.pop(line, None))
            for line, record in records
            if line not in done
        ),
        planned_size,
    )


def invalid_row(
    line: int, record: list[str], width: int, errors: list[dict[str, str]]
) -> PlannedRow:
    """An invalid row, kept for the report with the header's width of cells, as the report
    shows it: a row of millions of extra cells (TOO_MANY_CELLS) was stored whole, past what
    PostgreSQL takes in one value."""
    return PlannedRow(line=line, cells=record[:width], status="invalid", errors=errors)


def plan_row(
    plan: Plan, line: int, record: list[str], parsed: ParsedRow | None, *, encoded: bool = False
) -> PlannedRow:
    """The write a row makes; `parsed` is its parse when at hand (parsed again otherwise).
    `encoded`: a row that creates an item is encoded for COPY, not kept as a planned row (one
    the writer finds it must match is planned again, `worker.replan`)."""
    errors = plan.scan.invalid.get(line)
    if errors is not None:
        return invalid_row(line, record, plan.parser.width, errors)
    if parsed is None:
        again = plan.parser.parse(line, record)
        assert isinstance(again, ParsedRow)  # the scan saw this row valid
        parsed = again
    row = PlannedRow(
        line=line,
        cells=record,
        status="created",
        name=parsed.name,
        level=parsed.level,
        parent_line=plan.scan.parent_of.get(line),
        document=encode_document(parsed.values),
    )
    if plan.behaviour is None or plan.match_column is None:
        return row
    key = _row_key(plan, record, parsed)
    found = plan.matches.get(key, []) if key else []
    if found == [f"line:{line}"]:  # the row itself, planned again (`worker.replan`)
        found = []
    if key and plan.parser.header.key_index is None:
        # the writer matches the row again should other writers change who holds its key
        # meanwhile (`matchkeys`): it keeps what it would write whatever the match decides
        # (an item id never changes hands: no need)
        row.key, row.matched = key, found
    if len(found) > 1:
        row.status = "invalid"
        row.errors = [multiple_matches(plan.match_column, key, len(found))]
        return _keep_clears(row, parsed)
    if not found:
        if plan.behaviour == "UPDATE":  # Zoho's update mode never creates
            row.status = "skipped"
            if row.key is None:
                row.document = None
            return _keep_clears(row, parsed)
        if not row.name:  # only a matched row may leave its name empty
            row.status, row.errors = "invalid", [MISSING_NAME.as_json()]
            if row.key is None:
                row.document = None
            return _keep_clears(row, parsed)
        if key:
            plan.matches[key] = [f"line:{line}"]
        return row if encoded else _keep_clears(row, parsed)
    return apply_match(row, plan.behaviour, found[0], parsed)


def _keep_clears(row: PlannedRow, parsed: ParsedRow) -> PlannedRow:
    """A keyed row that updates nothing as planned keeps the columns it clears, should the
    writer find it an item to update after all."""
    if row.key is not None:
        row.clears = [column for column, cell in parsed.values.items() if cell.value is None]
    return row


def apply_match(
    row: PlannedRow, behaviour: str, target: int | str, parsed: ParsedRow
) -> PlannedRow:
    """A row whose key matched `target` (an item id, or "line:N" for the item an earlier row
    of the file creates) updates that item, or skips it (`SKIP`)."""
    if isinstance(target, str):
        # resolved at write time; should that row fail, this one creates the item instead
        # (`writer._resolve_same_file_matches`), so it keeps its document even if skipped
        row.match_line = int(target.removeprefix("line:"))
    else:
        row.item_id = target
    if behaviour == "SKIP":
        row.status = "skipped"
        if row.match_line is None and row.key is None:
            row.document = None
        return _keep_clears(row, parsed)
    row.status = "updated"
    for column, cell in parsed.values.items():
        (row.clears if cell.value is None else row.sets).append(column)
    return row


def _row_key(plan: Plan, record: list[str], parsed: ParsedRow) -> str:
    index = plan.parser.header.key_index
    if index is not None:  # matched by item id: the id as written, or its mapping's default
        written = record[index].strip() if index < len(record) else ""
        return written or plan.parser.defaults.get(index, "").strip()
    if plan.match_column == "name":
        return parsed.name
    assert plan.match_column is not None  # the caller matches
    return _match_key(parsed, plan.match_column)


def _match_key(parsed: ParsedRow, column_id: str) -> str:
    cell = parsed.values.get(column_id)
    return cell.text if cell is not None and cell.value is not None else ""
