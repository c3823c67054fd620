"""Parent-child files (Zoho's linking-module imports): a second CSV whose rows become subitems
of the items the first file created or matched, joined by a key.

The job's `subitems` option names the parent file's key column (`parent_key_column_id`, a
column id or `name`) and the child file's header holding that key (`parent_key_header`). The
child file's other headers are column ids, as in the parent file. Child rows are counted with
the parent rows; their report is a second file. Their lines are stored after
CHILD_LINE_OFFSET so that (job, line) stays unique.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from server.imports import csvfile
from server.imports.planning import chunked, planned_size
from server.imports.rows import ParsedRow, RowParser, encode_document, errors_json
from server.imports.writer import PlannedRow
from server.store.jobs import Job

CHILD_LINE_OFFSET = 10_000_000  # child row k is stored as line CHILD_LINE_OFFSET + k


def children_key(job: Job) -> str:
    """Where the child file is uploaded: beside the parent file."""
    return job.object_key.removesuffix(".csv") + ".subitems.csv"


def report_key(job: Job) -> str:
    return f"reports/{job.id}.subitems.csv"


@dataclass
class ChildScan:
    parser: RowParser
    key_index: int
    total: int = 0
    invalid: dict[int, list[dict[str, str]]] = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return self.total - len(self.invalid)


@dataclass(frozen=True)
class Parent:
    item_id: int | None  # None in a dry run for a parent that would be created
    level: int


def scan_children(
    path: Path, make_parser: Callable[[list[str], str], RowParser], key_header: str, limit: int
) -> ChildScan:
    records = csvfile.read_records(path)
    first = next(records, None)
    if first is None:
        raise csvfile.InvalidUpload("The subitems file is empty: expected a header row")
    names = [cell.strip() for cell in first[1]]
    if key_header not in names:
        raise csvfile.InvalidUpload(
            f"The subitems file has no {key_header!r} column (parent_key_header)"
        )
    scan = ChildScan(parser=make_parser(first[1], key_header), key_index=names.index(key_header))
    for line, record in records:
        scan.total += 1
        if scan.total > limit:
            raise csvfile.InvalidUpload(f"The subitems file has more than {limit:,} data rows")
        parsed = scan.parser.parse(line, record)
        if not isinstance(parsed, ParsedRow):
            scan.invalid[line] = errors_json(parsed)
        elif not _key(record, scan.key_index):
            scan.invalid[line] = [
                _error("MISSING_PARENT_KEY", f"The {names[scan.key_index]!r} cell is empty")
            ]
    return scan


def _key(record: list[str], index: int) -> str:
    return record[index].strip() if index < len(record) else ""


def _error(code: str, message: str) -> dict[str, str]:
    return {"column_id": "", "code": code, "message": message}


def plan_children(
    scan: ChildScan, path: Path, parents: dict[str, list[Parent]], done: set[int]
) -> Iterator[list[PlannedRow]]:
    records = csvfile.read_records(path)
    next(records)
    return chunked(
        (
            _plan_child(scan, CHILD_LINE_OFFSET + line, line, record, parents)
            for line, record in records
            if CHILD_LINE_OFFSET + line not in done
        ),
        planned_size,
    )


def _plan_child(
    scan: ChildScan,
    stored_line: int,
    line: int,
    record: list[str],
    parents: dict[str, list[Parent]],
) -> PlannedRow:
    errors = scan.invalid.get(line)
    if errors is None:
        key = _key(record, scan.key_index)
        found = parents.get(key, [])
        if len(found) != 1:
            code = "PARENT_NOT_FOUND" if not found else "AMBIGUOUS_PARENT"
            errors = [_error(code, f"{len(found)} parent rows have the key {key!r}")]
    if errors is not None:
        return PlannedRow(line=stored_line, cells=record, status="invalid", errors=errors)
    parsed = scan.parser.parse(line, record)
    assert isinstance(parsed, ParsedRow)  # the scan saw it valid
    parent = found[0]
    return PlannedRow(
        line=stored_line, cells=record, status="created", name=parsed.name, level=parent.level + 1,
        parent_id=parent.item_id,
        document=encode_document(parsed.values),
    )  # fmt: skip
