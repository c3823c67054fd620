"""Parent-child files (Zoho's linking-module imports): a second CSV whose rows become subitems
of the items the first file created or matched, joined by a key.

The job's `subitems` option names the parent file's key column (`parent_key_column_id`, a
column id or `name`; or `id`, where a child row names its parent by the id of any active item
of the board) and the child file's header holding that key (`parent_key_header`). The
child file's other headers are column ids, as in the parent file. Child rows are counted with
the parent rows; their report is a second file. Their lines are stored after
CHILD_LINE_OFFSET so that (job, line) stays unique.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from server.errors import shown
from server.imports import csvfile
from server.imports.planning import apply_match, chunked, invalid_row, planned_size
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
    by_item_id: bool = False  # keys are item ids of the board (Zoho's Parent_Id by id)
    total: int = 0
    invalid: dict[int, list[dict[str, str]]] = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return self.total - len(self.invalid)


@dataclass(frozen=True)
class Parent:
    item_id: int | None  # None in a dry run for a parent that would be created
    level: int
    holds_subitems: bool  # the board has a level below this item's
    # the job's on_match behaviour: a child row then matches, by name, a subitem the parent
    # has already (Zoho's find_by for the child module) and updates or skips it as a main
    # row would; None: every child row creates a subitem
    on_match: str | None = None
    subitems: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # by name


def scan_children(
    path: Path,
    make_parser: Callable[[list[str], str], RowParser],
    key_header: str,
    limit: int,
    *,
    by_item_id: bool = False,
) -> ChildScan:
    records = csvfile.read_records(path)
    first = next(records, None)
    if first is None:
        raise csvfile.InvalidUpload("The subitems file is empty: expected a header row")
    names = [cell.strip() for cell in first[1]]
    if key_header not in names:
        raise csvfile.InvalidUpload(
            f"The subitems file has no {shown(key_header)} column (parent_key_header)"
        )
    scan = ChildScan(
        parser=make_parser(first[1], key_header),
        key_index=names.index(key_header),
        by_item_id=by_item_id,
    )
    for line, record in records:
        scan.total += 1
        if scan.total > limit:
            raise csvfile.InvalidUpload(f"The subitems file has more than {limit:,} data rows")
        parsed = scan.parser.parse(line, record)
        if not isinstance(parsed, ParsedRow):
            scan.invalid[line] = errors_json(parsed)
        elif not _key(record, scan.key_index):
            scan.invalid[line] = [
                _error("MISSING_PARENT_KEY", f"The {shown(names[scan.key_index])} cell is empty")
            ]
    return scan


def _key(record: list[str], index: int) -> str:
    return record[index].strip() if index < len(record) else ""


def _error(code: str, message: str) -> dict[str, str]:
    return {"column_id": "", "code": code, "message": message}


def plan_children(
    scan: ChildScan,
    path: Path,
    parents: dict[str, list[Parent]],
    lost: Mapping[str, tuple[int, str]],
    done: set[int],
) -> Iterator[list[PlannedRow]]:
    records = csvfile.read_records(path)
    next(records)
    # (parent, name) -> line creating that subitem; a parent is its item id, or in a dry run
    # its key if it is to be created (one key names one such parent: AMBIGUOUS_PARENT)
    created: dict[tuple[int | str, str], int] = {}
    return chunked(
        (
            _plan_child(scan, CHILD_LINE_OFFSET + line, line, record, parents, lost, created)
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
    lost: Mapping[str, tuple[int, str]],
    created: dict[tuple[int | str, str], int],
) -> PlannedRow:
    errors = scan.invalid.get(line)
    if errors is None:
        key = _key(record, scan.key_index)
        found = parents.get(key, [])
        if not found and key in lost:
            # the row is there but became no item: saying no row has the key hid that
            parent_line, status = lost[key]
            errors = [
                _error("PARENT_NOT_FOUND",
                       f"The parent row with the key {shown(key)} (line {parent_line}) became no "
                       f"item: it is {status}")
            ]  # fmt: skip
        elif not found and scan.by_item_id:
            # another board's, another account's, an archived or a deleted item: all alike
            errors = [
                _error("PARENT_NOT_FOUND", f"No active item of this board has the id {shown(key)}")
            ]
        elif not found:
            errors = [_error("PARENT_NOT_FOUND", f"0 parent rows have the key {shown(key)}")]
        elif len(found) > 1:  # rows that became one item are one parent (`_parent_keys`)
            errors = [
                _error("AMBIGUOUS_PARENT", f"{len(found)} parent items have the key {shown(key)}")
            ]
        elif not found[0].holds_subitems:
            errors = [_too_deep(found[0])]
    if errors is not None:
        return invalid_row(stored_line, record, scan.parser.width, errors)
    parsed = scan.parser.parse(line, record)
    assert isinstance(parsed, ParsedRow)  # the scan saw it valid
    parent = found[0]
    row = PlannedRow(
        line=stored_line, cells=record, status="created", name=parsed.name, level=parent.level + 1,
        parent_id=parent.item_id,
        document=encode_document(parsed.values),
    )  # fmt: skip
    if parent.on_match is None:
        return row
    return _match_subitem(
        row, parent, key if parent.item_id is None else parent.item_id, parsed, created
    )


def _too_deep(parent: Parent) -> dict[str, str]:
    return _error(
        "PARENT_TOO_DEEP",
        f"The parent item is at level {parent.level}, the deepest this board allows; "
        "it cannot hold subitems",
    )


def _match_subitem(
    row: PlannedRow,
    parent: Parent,
    who: int | str,
    parsed: ParsedRow,
    created: dict[tuple[int | str, str], int],
) -> PlannedRow:
    """A child row of a job with on_match: the parent's subitem of the same name (or the one
    an earlier child row creates under it) is updated or skipped, as a matched main row.
    `who` names the parent in `created`: its item id, or its key in a dry run that would
    create it (keyed by id only, a repeated name there counted two subitems created)."""
    existing = parent.subitems.get(parsed.name, ())
    earlier = created.get((who, parsed.name))
    if len(existing) > 1:
        row.status, row.document = "invalid", None
        row.errors = [
            _error("MULTIPLE_MATCHES",
                   f"The parent has {len(existing)} subitems named {shown(parsed.name)}; nothing was changed")
        ]  # fmt: skip
        return row
    if existing or earlier is not None:
        target: int | str = existing[0] if existing else f"line:{earlier}"
        return apply_match(row, parent.on_match or "UPSERT", target, parsed)
    if parent.on_match == "UPDATE":  # Zoho's update mode never creates, children neither
        row.status, row.document = "skipped", None
    else:
        created[(who, parsed.name)] = row.line
    return row
