"""New items in PostgreSQL's binary COPY format, encoded in two halves.

The parsing worker encodes what it knows of each created row (board, group, level, name,
creator, values document) as the tail of a COPY tuple; the writer puts the four fields only it
knows (the allocated id, the position and the timestamps) in front. The server process then
handles a chunk as a few byte strings instead of a Python record per row.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

# the columns of a tuple, in order: the writer's four, then the worker's seven
COLUMNS = [
    "id", "position", "created_at", "updated_at",
    "board_id", "group_id", "parent_id", "level", "name", "creator_id", "column_values",
]  # fmt: skip
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, no extension
TRAILER = struct.pack(">h", -1)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's timestamps count from here
_HEAD = struct.Struct(">hiqiqiqiq")  # field count, then id, position, created_at, updated_at
_LENGTH = struct.Struct(">i")
_NULL = _LENGTH.pack(-1)


def _bigint(value: int) -> bytes:
    return struct.pack(">iq", 8, value)


def _text(value: str) -> bytes:
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


class ItemTail:
    """Encodes the worker's half of a top-level item's tuple for one job."""

    def __init__(self, *, board_id: int, group_id: str, creator_id: int) -> None:
        # board, group, no parent, level 1: the same for every row of a flat file
        self.before_name = _bigint(board_id) + _text(group_id) + _NULL + struct.pack(">ii", 4, 1)
        self.creator = _bigint(creator_id)

    def encode(self, name: str, document: bytes) -> bytes:
        """`document` is the values document as JSON (the json type's binary form is its text)."""
        encoded = name.encode()
        return b"".join(
            (
                self.before_name,
                _LENGTH.pack(len(encoded)),
                encoded,
                self.creator,
                _LENGTH.pack(len(document)),
                document,
            )
        )


def name_and_document(tail: bytes) -> tuple[str, bytes]:
    """The name and values document an `ItemTail` encoded (for the rare writer that must
    read them again)."""
    fields: list[bytes] = []
    offset = 0
    while offset < len(tail):
        (length,) = _LENGTH.unpack_from(tail, offset)
        offset += 4
        fields.append(tail[offset : offset + max(length, 0)])
        offset += max(length, 0)
    return fields[4].decode(), fields[6]


def timestamp(moment: datetime) -> int:
    """A timestamptz as COPY sends it: microseconds since 2000-01-01 UTC."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def copy_data(
    ids: Sequence[int], first_position: int, moment: datetime, tails: Sequence[bytes]
) -> bytes:
    """The whole COPY stream: each tail behind its id, position and timestamps."""
    stamp = timestamp(moment)
    parts = [HEADER]
    pack = _HEAD.pack
    for offset, (item_id, tail) in enumerate(zip(ids, tails, strict=True)):
        parts.append(pack(len(COLUMNS), 8, item_id, 8, first_position + offset, 8, stamp, 8, stamp))
        parts.append(tail)
    parts.append(TRAILER)
    return b"".join(parts)
