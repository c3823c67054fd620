"""Named SQL queries and migrations, read from the `.sql` files under `db/`.

A query file holds blocks that start with `-- name: query_name`; the text up to the next
such line is the query (as in procrastinate's `sql/__init__.py`).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

DB_DIR = Path(__file__).resolve().parent.parent / "db"
_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split a file of named queries into {name: sql}."""
    parts = _NAME_LINE.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def storable(text: str) -> bool:
    """Whether PostgreSQL takes `text` as a text value: it refuses a NUL character, and a lone
    UTF-16 surrogate (valid in JSON's \\u escapes) has no UTF-8 encoding to send."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_json(value: Any) -> bool:
    """Whether jsonb takes a decoded JSON value: every string in it, keys included, storable
    (jsonb refuses \\u0000 too). Walked with a stack: variables may nest deeper than Python
    recurses."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if not storable(node):
                return False
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


@cache
def queries(aggregate: str) -> dict[str, str]:
    """The named queries of `db/queries/<aggregate>.sql`."""
    return parse_queries((DB_DIR / "queries" / f"{aggregate}.sql").read_text("utf-8"))


def migrations() -> list[tuple[str, str]]:
    """The migration files in order, as (file name, sql)."""
    files = sorted((DB_DIR / "migrations").glob("*.sql"))
    return [(path.name, path.read_text("utf-8")) for path in files]
