"""The partial index on items.parent_id (migration 0014) serves every lookup by parent."""

from __future__ import annotations

import json

import asyncpg
import pytest

from tests.conftest import ServerProcess
from tests.importing import postgres_socket

# the forms in which the server looks items up by parent (db/queries) and the foreign key's
# cascade from a deleted parent looks for its children
LOOKUPS = [
    ("SELECT id FROM items WHERE parent_id = $1", [1]),
    ("SELECT id FROM items WHERE parent_id = ANY($1::bigint[]) AND state = 'active'", [[1, 2]]),
    ("DELETE FROM ONLY items WHERE $1 OPERATOR(pg_catalog.=) parent_id", [1]),
    ("SELECT i.id FROM items i JOIN unnest($1::bigint[]) AS t(id) ON i.parent_id = t.id", [[1]]),
]


@pytest.mark.parametrize(("query", "args"), LOOKUPS)
async def test_lookups_by_parent_can_use_the_partial_index(
    server: ServerProcess, query: str, args: list[object]
) -> None:
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        definition = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'items_parent_idx'"
        )
        assert definition.endswith("WHERE (parent_id IS NOT NULL)"), definition
        async with conn.transaction():
            # a generic plan, as a prepared statement or the cascade trigger gets; with
            # sequential scans priced out, the plan shows whether the index is usable at all
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
            assert "items_parent_idx" in json.dumps(plan), plan
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await conn.close()


class _Rollback(Exception):
    """Leaves the transaction (and its settings) undone."""
