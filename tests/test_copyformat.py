"""The binary COPY encoding of new items, read back field by field."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

from server.imports import copyformat


def fields_of(data: bytes) -> list[list[bytes | None]]:
    """Decode a binary COPY stream into tuples of raw fields (None for NULL)."""
    assert data.startswith(copyformat.HEADER) and data.endswith(copyformat.TRAILER)
    body, tuples = data[len(copyformat.HEADER) : -len(copyformat.TRAILER)], []
    at = 0
    while at < len(body):
        (count,) = struct.unpack_from(">h", body, at)
        at += 2
        fields: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from(">i", body, at)
            at += 4
            fields.append(None if length < 0 else body[at : at + length])
            at += max(length, 0)
        tuples.append(fields)
    return tuples


def test_timestamps_count_microseconds_from_2000() -> None:
    assert copyformat.timestamp(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    moment = datetime(2000, 1, 2, 0, 0, 1, 5, tzinfo=UTC)
    assert copyformat.timestamp(moment) == (86_400 + 1) * 1_000_000 + 5
    assert copyformat.timestamp(moment - timedelta(days=2)) < 0


def test_each_tail_is_put_behind_its_id_position_and_timestamps() -> None:
    tail = copyformat.ItemTail(board_id=100, group_id="topics", creator_id=10)
    tails = [tail.encode("Ünïcode, name", b'{"a":1}'), tail.encode("", b"{}")]
    moment = datetime(2026, 11, 26, tzinfo=UTC)
    data = copyformat.copy_data([9_000_000_001, 9_000_000_002], 41, moment, tails)
    stamp = struct.pack(">q", copyformat.timestamp(moment))
    assert fields_of(data) == [
        [struct.pack(">q", 9_000_000_000 + n), struct.pack(">q", 40 + n), stamp, stamp,
         struct.pack(">q", 100), b"topics", None, struct.pack(">i", 1), name.encode(),
         struct.pack(">q", 10), document]
        for n, name, document in [(1, "Ünïcode, name", b'{"a":1}'), (2, "", b"{}")]
    ]  # fmt: skip
    assert len(copyformat.COLUMNS) == 11
