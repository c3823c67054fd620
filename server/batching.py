"""How many rows to read next when rows differ wildly in size (a report's row results, an
export's records): start at one and double while a batch stays light, shrink when it is heavy.
A fixed count read 500 records of 200 KB descriptions (100 MB) or a report page of rows of a
million cells at once."""

from __future__ import annotations


def next_size(size: int, weight: int, max_rows: int, max_bytes: int) -> int:
    """The rows to read next, after `size` rows that weighed `weight` bytes: doubled (up to
    `max_rows`) while they weigh less than half `max_bytes`, else scaled down towards it."""
    if weight < max_bytes // 2:
        return min(2 * size, max_rows)
    return max(1, size * max_bytes // (2 * weight))
