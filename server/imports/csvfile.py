"""Reading an uploaded CSV: strict UTF-8 per line, RFC 4180 quoting, the header rules.

Lines are decoded one at a time from the binary file so that a decoding error names its
exact line; the csv module then joins quoted newlines across lines.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from server import errors

# Python's csv module stops at 128 KB per field by default; files may carry 10 MB cells.
FIELD_SIZE_LIMIT = 160 * 1024 * 1024  # bytes
# `match_column_id: "id"` matches rows to items by item id (Zoho's find_by the record id), read
# from the file's `id` column (or the field mapping of `id`), unless the board has a column
# with that id
ITEM_ID_KEY = "id"
MAX_LEVELS = 5  # name.l1 .. name.l5
BLOCK_BYTES = 1024 * 1024  # bytes decoded at a time
LONG_TEXT = 4 * BLOCK_BYTES  # characters: a text this long holds a line of several blocks
_LEVEL_HEADER = re.compile(r"^name\.l([1-9])$")
# The report's own columns: a corrected report can be uploaded again as it is, so the
# importer ignores these headers (unless the board has a column of that id).
REPORT_COLUMNS = ("__line", "__status", "__item_id", "__errors")

csv.field_size_limit(FIELD_SIZE_LIMIT)


class InvalidUpload(Exception):
    """The file cannot be imported at all: REJECTED with INVALID_UPLOAD."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, kw_only=True)
class Header:
    names: list[str]  # the header cells as written
    level_of_index: dict[int, int]  # cell index -> hierarchy level (1 for `name`)
    column_of_index: dict[int, str]  # cell index -> column id
    # matching by item id (`match_column_id: "id"`): the cell index of the ids
    key_index: int | None = None
    # the names are given as `name.lN` (headers, or field mappings' column ids): read from
    # the file's header it was wrong for field mappings, whose header names do not matter
    # and whose constant name has no header cell (IndexError)
    level_names: bool = False

    @property
    def is_multilevel(self) -> bool:
        return self.level_names or any(level > 1 for level in self.level_of_index.values())


def _decoded_lines(stream: BinaryIO) -> Iterator[str]:
    """The file's lines as text; \n, \r\n and a bare \r (classic Mac) each end a line.

    Decoded a block at a time (C speed); only a block holding a NUL byte or bad UTF-8 is
    gone through line by line, to name the line in the error.
    """
    number = 0  # lines before the current block
    # the blocks read since the last line end, joined once the line ends: joined at every
    # block, a 100 MB line without a line end took 4 s of copying and searching again
    pending: list[bytes] = []
    first = True
    while True:
        block = stream.read(BLOCK_BYTES)
        if block:
            cut = _complete_lines_end(block)
            if not cut:
                pending.append(block)
                continue
            piece, pending = b"".join([*pending, block[:cut]]), [block[cut:]]
        elif pending:
            piece, pending = b"".join(pending), []
            if not piece:
                return
        else:
            return
        if first:
            first = False
            piece = piece.removeprefix(b"\xef\xbb\xbf")
        try:
            if b"\x00" in piece:
                raise ValueError("NUL byte")
            text = piece.decode("utf-8")
        except ValueError:  # UnicodeDecodeError too: the lines before the bad one still count
            yield from _lines_up_to_the_bad_one(piece, number)
        # newline="": lines end at \n, \r\n or \r, as bytes.splitlines counts them
        short = len(text) <= LONG_TEXT or "\r" in text
        yield from io.StringIO(text, newline="") if short else _long_text_lines(text)
        number += len(piece.splitlines())


def _long_text_lines(text: str) -> Iterator[str]:
    """The lines of a long `text` without a \r, which ends at a line end or at the end of
    the file: io.StringIO would first copy it at 4 bytes a character (a 100 MB line without
    a line end made the worker 400 MB larger)."""
    lines = text.split("\n")
    last = lines.pop()
    for line in lines:
        yield line + "\n"
    if last:
        yield last


def _complete_lines_end(data: bytes) -> int:
    """Where the last complete line of `data` ends; a final \r may be half of a \r\n."""
    end = max(data.rfind(b"\n"), data.rfind(b"\r"))
    if end == len(data) - 1 and data.endswith(b"\r"):
        end = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end))
    return end + 1


def _lines_up_to_the_bad_one(piece: bytes, before: int) -> Iterator[str]:
    """The lines of a block that failed to decode, up to the one that made it fail: a CSV
    error on an earlier line is still the one reported, as in a line-by-line read."""
    for number, raw in enumerate(piece.splitlines(keepends=True), start=before + 1):
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise InvalidUpload(
                f"Line {number} contains a NUL byte (column {nul + 1}); "
                "is the file UTF-16 or binary? Save it as UTF-8 text"
            )
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidUpload(
                f"Line {number} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                f"{exc.start + 1}); save the file as UTF-8"
            ) from exc
    raise AssertionError("no bad line in a block that failed to decode")


def read_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) for every record, header first; blank lines skipped."""
    with path.open("rb") as stream:
        reader = csv.reader(_decoded_lines(stream), strict=True)
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InvalidUpload(f"CSV parse error at line {start}: {exc}") from exc
            if record:
                yield start, record


def parse_header(
    cells: list[str],
    column_ids: Mapping[str, str],
    hierarchy_levels: int,
    ignore: frozenset[str] = frozenset(),
    key: str | None = None,
) -> Header:
    """Check the header against the board: `name` (or name.l1..) first, then exact column ids
    (and `key`, the header of the item ids a job matches on, if any)."""
    ignore = ignore | {key} if key else ignore
    names = [cell.strip() for cell in cells]
    seen: set[str] = set()
    level_of_index: dict[int, int] = {}
    column_of_index: dict[int, str] = {}
    for index, name in enumerate(names):
        if not name:
            raise InvalidUpload(f"Header cell {index + 1} is empty")
        if name in seen:
            raise InvalidUpload(f"Duplicate header {errors.shown(name)}")
        seen.add(name)
        level_match = _LEVEL_HEADER.match(name)
        if name == "name":
            level_of_index[index] = 1
        elif level_match and hierarchy_levels > 1:
            level = int(level_match.group(1))
            if level > min(hierarchy_levels, MAX_LEVELS):
                raise InvalidUpload(
                    f"Header {errors.shown(name)}: the board has {hierarchy_levels} hierarchy levels"
                )
            level_of_index[index] = level
        elif name in column_ids:
            column_of_index[index] = name
        elif name in REPORT_COLUMNS or name in ignore:
            continue
        else:
            raise InvalidUpload(
                f"Header {errors.shown(name)} is not a column id of this board (column ids are "
                "case-sensitive; query the board's columns for them)"
            )
    if 0 not in level_of_index:
        raise InvalidUpload("The first header must be 'name' (or 'name.l1' on a multi-level board)")
    if "name" in seen and "name.l1" in seen:
        raise InvalidUpload("Use either 'name' or 'name.l1' for the top level, not both")
    levels = sorted(level_of_index.values())
    if levels != list(range(1, len(levels) + 1)):
        raise InvalidUpload("Level headers must run name.l1, name.l2, ... without gaps")
    return Header(
        names=names, level_of_index=level_of_index, column_of_index=column_of_index,
        key_index=names.index(key) if key in names else None,
        level_names=any(names[i].startswith("name.l") for i in level_of_index),
    )  # fmt: skip


def header_from_mappings(
    cells: list[str],
    mappings: list[dict[str, object]],
    column_ids: Mapping[str, str],
    hierarchy_levels: int,
    key: str | None = None,
) -> tuple[Header, dict[int, str]]:
    """Zoho-style field mappings: columns chosen by index instead of by header name.

    Returns the header and the default value of each mapped cell index. The file's first
    row is still its header row; its names do not matter. A mapping without an index gives
    every row its default value: it reads a cell past the end of the row, always empty.
    """
    level_of_index: dict[int, int] = {}
    column_of_index: dict[int, str] = {}
    defaults: dict[int, str] = {}
    key_index: int | None = None
    level_names = False
    beyond = itertools.count(len(cells))
    for mapping in mappings:
        column_id = str(mapping["column_id"])
        index = next(beyond) if mapping.get("index") is None else int(str(mapping["index"]))
        if index < 0 or (index >= len(cells) and mapping.get("index") is not None):
            raise InvalidUpload(
                f"Field mapping for {errors.shown(column_id)}: index {index} is outside the row "
                f"(the header has {len(cells)} cells, indexes 0 to {len(cells) - 1})"
            )
        if index in level_of_index or index in column_of_index or index == key_index:
            raise InvalidUpload(f"Field mapping index {index} is mapped twice")
        level_match = _LEVEL_HEADER.match(column_id)
        level = int(level_match.group(1)) if level_match and hierarchy_levels > 1 else 0
        if column_id == key:
            if key_index is not None:
                raise InvalidUpload(f"Field mapping: {errors.shown(column_id)} is mapped twice")
            key_index = index
        elif column_id == "name" or 0 < level <= hierarchy_levels:
            level_names = level_names or column_id != "name"
            level = level or 1
            if level in level_of_index.values():
                # `name` and `name.l1` are one level: two cells for it would make every row
                # that fills both NAME_IN_SEVERAL_LEVELS
                raise InvalidUpload(f"Field mappings map the level-{level} name twice")
            level_of_index[index] = level
        elif column_id in column_of_index.values():
            raise InvalidUpload(f"Field mapping: {errors.shown(column_id)} is mapped twice")
        elif column_id in column_ids:
            column_of_index[index] = column_id
        else:
            raise InvalidUpload(
                f"Field mapping: {errors.shown(column_id)} is not a column id of this board"
            )
        if mapping.get("default_value") is not None:
            defaults[index] = str(mapping["default_value"])
    if 1 not in level_of_index.values():
        raise InvalidUpload("Field mappings must map 'name' (the item name) to a column index")
    return Header(names=[c.strip() for c in cells], level_of_index=level_of_index,
                  column_of_index=column_of_index, key_index=key_index,
                  level_names=level_names), defaults  # fmt: skip
