"""Turning CSV records into validated rows: cells per column, MLS levels and parents.

The same `RowParser` serves the scan (which decides every row's validity before anything is
written) and the write pass (which re-parses valid rows chunk by chunk, so memory stays bounded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from server.imports import cells
from server.imports.csvfile import Header
from server.store.records import MAX_NAME

NULL_MARKER = "<NULL>"  # in UPSERT mode, clears the stored value
CLEARED = cells.Cell(value=None, text="")
MAX_ERROR_VALUE = 100  # characters of a bad value quoted in a message
# Parses of repeated cells are remembered per column: status, dropdown, people and relation
# columns repeat a few values over thousands of rows. A column that shows more distinct cells
# than MEMO_ENTRIES stops remembering (ids, e-mails, free text); long cells are never kept.
MEMO_ENTRIES = 1024
MEMO_CELL_CHARS = 100
# a column's cells -> the Cell, None, or the CellError its parser gave
_Memo = dict[str, cells.Cell | cells.CellError | None]


@dataclass
class ParsedRow:
    line: int
    level: int
    name: str
    # column id -> Cell to store; a Cell with value None clears the column
    values: dict[str, cells.Cell] = field(default_factory=dict)


@dataclass(frozen=True)
class RowError:
    column_id: str
    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"column_id": self.column_id, "code": self.code, "message": self.message}


MISSING_NAME = RowError("name", "MISSING_NAME", "The item name is empty")
NAME_TOO_LONG = RowError(
    "name", "NAME_TOO_LONG", f"The item name is longer than {MAX_NAME} characters"
)


class RowParser:
    def __init__(
        self,
        header: Header,
        columns: Mapping[str, cells.Column],
        directory: cells.Directory,
        *,
        clear_with_null: bool,
        clear_empty: bool = False,
        defaults: Mapping[int, str] | None = None,
        name_optional: bool = False,
    ) -> None:
        self.header = header
        # on_match: a matched row's empty name keeps the item's, as any empty cell of a
        # matched row does; planning refuses an empty name where the row creates an item
        self.name_optional = name_optional
        self.clear_with_null = clear_with_null
        # Zoho's ignore_empty=false: an empty cell clears the matched item's value
        self.clear_empty = clear_empty
        # Zoho's field-mapping default_value, per cell index, for empty cells
        self.defaults = dict(defaults or {})
        # (cell index, column id, parser of the trimmed non-empty cell), in file order
        self.cell_parsers = [
            (index, column_id, cells.compile_parser(columns[column_id], directory, trimmed=True))
            for index, column_id in header.column_of_index.items()
        ]
        # per cell parser: trimmed cell -> its Cell, None, or the CellError it raised; None
        # once the column proved too varied to be worth remembering
        self.memos: list[_Memo | None] = [{} for _ in self.cell_parsers]
        self.rollup_columns = {
            column_id
            for column_id in header.column_of_index.values()
            if columns[column_id].settings.get("rollup")
        }
        self.width = len(header.names)
        # a mapping without an index (a default for every row) reads a cell past the header's
        self.filled_width = max([self.width, *(index + 1 for index in self.defaults)])

    def parse(self, line: int, record: list[str]) -> ParsedRow | list[RowError]:
        errors: list[RowError] = []
        if len(record) > self.width:
            extra = len(record) - self.width
            errors.append(
                RowError("", "TOO_MANY_CELLS", f"The row has {extra} more cell(s) than the header")
            )
            return errors
        if self.defaults:
            record = self.with_defaults(record)
        levels = [
            (level, name)
            for index, level in self.header.level_of_index.items()
            if (name := _name_cell(record, index))
        ]
        if not levels:
            if not self.name_optional:
                return [MISSING_NAME]  # shared: a RowError is never changed
            levels = [(1, "")]
        if len(levels) > 1:
            return [
                RowError(
                    "name",
                    "NAME_IN_SEVERAL_LEVELS",
                    "The row has a name in more than one level column",
                )
            ]
        level, name = levels[0]
        if len(name) > MAX_NAME:  # as the v2 mutations refuse it
            return [NAME_TOO_LONG]
        row = ParsedRow(line=line, level=level, name=name)
        values = row.values
        present = len(record)
        memos = self.memos
        clear_empty, cell_error = self.clear_empty, cells.CellError  # locals: read per cell
        cell: cells.Cell | cells.CellError | None
        for position, (index, column_id, parser) in enumerate(self.cell_parsers):
            raw = record[index].strip() if index < present else ""
            if not raw:
                if clear_empty:
                    values[column_id] = CLEARED
                continue
            if raw == NULL_MARKER:
                if self.clear_with_null:
                    values[column_id] = CLEARED
                continue
            memo = memos[position]
            if memo is not None and raw in memo:
                cell = memo[raw]
            else:
                try:
                    cell = parser(raw)
                except cell_error as exc:
                    cell = _detached(exc)  # kept in a memo
                if memo is not None:
                    memos[position] = _remembered(memo, raw, cell)
            if cell is None:
                if clear_empty:
                    values[column_id] = CLEARED
            elif isinstance(cell, cell_error):
                errors.append(RowError(column_id, cell.code, cell.message))
            else:
                values[column_id] = cell
        return errors or row

    def invalid_default(self) -> tuple[str, str, RowError] | None:
        """The first field-mapping default_value (column id, the default, its error) that
        its column refuses. A default is the job's setting, not a row's: checked once, it
        rejects the file instead of making each row that leaves the cell empty invalid."""
        for index, column_id, parser in self.cell_parsers:
            default = self.defaults.get(index, "").strip()
            if not default or default == NULL_MARKER:  # no value; `<NULL>` clears, as a cell
                continue
            try:
                parser(default)
            except cells.CellError as exc:
                return column_id, default, RowError(column_id, exc.code, exc.message)
        return None

    def with_defaults(self, record: list[str]) -> list[str]:
        filled = list(record) + [""] * (self.filled_width - len(record))
        for index, default in self.defaults.items():
            if not filled[index].strip():
                filled[index] = default
        return filled

    def level_of(self, record: list[str]) -> int | None:
        """The shallowest hierarchy level a record names; None when it names none."""
        levels = [
            level
            for index, level in self.header.level_of_index.items()
            if _name_cell(record, index)
        ]
        return min(levels, default=None)

    def sets_rollup(self, row: ParsedRow) -> bool:
        return any(column_id in row.values for column_id in self.rollup_columns)


def _name_cell(record: list[str], index: int) -> str:
    """A name cell, trimmed; `<NULL>` is an empty one: a name cannot be cleared (UPSERT), and
    elsewhere the marker is an empty cell as in any column, never an item called "<NULL>"."""
    name = record[index].strip() if index < len(record) else ""
    return "" if name == NULL_MARKER else name


def _remembered(memo: _Memo, raw: str, found: cells.Cell | cells.CellError | None) -> _Memo | None:
    """The column's memo with `found` kept for `raw` (long cells are not kept); None once the
    column shows more distinct cells than MEMO_ENTRIES: it stops remembering."""
    if len(raw) <= MEMO_CELL_CHARS:
        if len(memo) >= MEMO_ENTRIES:
            return None
        memo[raw] = found
    return memo


def _detached(error: cells.CellError) -> cells.CellError:
    """`error` fit to be kept (in a memo, as a parsed cell): without its traceback and without
    the exception it was raised from or while handling (email_validator's, phonenumbers'),
    whose traceback holds the parser's frames. Either would make a reference cycle through the
    parser, freed only by the garbage collector, which the parsing worker runs rarely
    (GC_THRESHOLDS): a job's whole state (parser, memos, scan, plan) stayed in the worker's
    memory after the job, about 18 KiB for each small import with an invalid e-mail."""
    error.__cause__ = error.__context__ = None
    return error.with_traceback(None)


def remembering(parser: cells.CellParser) -> cells.CellParser:
    """A parser of raw cells from `parser` of trimmed, non-empty ones (`compile_parser(...,
    trimmed=True)`), with the memo RowParser keeps per column, for callers that parse cell by
    cell (Blue records): the same limits, and the same answer as a fresh parse."""
    memo: _Memo | None = {}

    def parse(raw: str) -> cells.Cell | None:
        nonlocal memo
        raw = raw.strip()
        if not raw:
            return None
        found: cells.Cell | cells.CellError | None
        if memo is not None and raw in memo:
            found = memo[raw]
        else:
            try:
                found = parser(raw)
            except cells.CellError as exc:
                found = _detached(exc)  # kept in a memo
            if memo is not None:
                memo = _remembered(memo, raw, found)
        if isinstance(found, cells.CellError):
            # a copy: the one raised takes a traceback of this frame, which holds `found`
            raise cells.CellError(found.code, found.message)
        return found

    return parse


def encode_document(values: Mapping[str, cells.Cell]) -> bytes:
    """Column id -> Cell as an item's values document, JSON; cleared cells left out. Dicts:
    orjson writes a slotted Cell itself, but three times slower."""
    return orjson.dumps(
        {
            c: {"value": cell.value, "text": cell.text}
            for c, cell in values.items()
            if cell.value is not None
        }
    )


def errors_json(errors: list[RowError]) -> list[dict[str, Any]]:
    return [error.as_json() for error in errors]
