"""Numeric ids as clients send them: GraphQL IDs, JSON numbers and CSV cells.

An id is written in ASCII digits (str.isdigit would also take "²" or "١٢", which int()
refuses or reads as other numbers) or sent as a JSON integer, and fits PostgreSQL's bigint.
A larger number names nothing that can be stored, so it reads as an unknown id and is never
sent to the database, where it would overflow the bigint parameter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_ID = 2**63 - 1  # the largest bigint: every id column is one
MAX_DIGITS = 100  # significant digits read; int() refuses texts of over 4,300 of them
_DIGITS = re.compile(r"[0-9]+")


def parse_number(value: object) -> int | None:
    """A non-negative whole number of any size up to MAX_DIGITS digits: an int (not a bool)
    or ASCII digits with surrounding whitespace; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _DIGITS.fullmatch(text) is None:
        return None
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= MAX_DIGITS else None


def parse_id(value: object) -> int | None:
    """The id `value` names; None when it is no number or too large to be any stored id."""
    number = parse_number(value)
    return number if number is not None and number <= MAX_ID else None


def parse_ids(values: Sequence[object] | None) -> list[int] | None:
    """The ids of a list argument; elements that name no id (nulls, non-numbers, numbers too
    large) are left out, so they match nothing. None (no argument) stays None."""
    if values is None:
        return None
    found = (parse_id(value) for value in values)
    return [number for number in found if number is not None]
