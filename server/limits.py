"""Per-account hourly windows on the server clock: job starts and the ingest item budget."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from server import sql
from server.db import Connection
from server.errors import RateLimitExceeded

Q = sql.queries("jobs")

WINDOW = timedelta(hours=1)
JOB_STARTS_PER_HOUR = 100  # ingest_items + backfill_items calls, per account
ITEMS_PER_HOUR = 19_000  # items created or updated by ingest_items, per account

JOB_START = "job_start"
ITEMS = "items"


async def _usage(
    conn: Connection, account_id: int, kind: str, now: datetime
) -> tuple[int, datetime | None]:
    row = await conn.fetchrow(Q["usage_in_window"], account_id, kind, now - WINDOW, now)
    assert row is not None
    return int(row["used"]), row["oldest"]


async def take_job_start(conn: Connection, account_id: int, now: datetime) -> None:
    """Count one job start, or raise RATE_LIMIT_EXCEEDED with the wait until a slot frees."""
    async with conn.transaction():
        await conn.execute(Q["lock_account_usage"], account_id)
        used, oldest = await _usage(conn, account_id, JOB_START, now)
        if used >= JOB_STARTS_PER_HOUR:
            wait = (oldest + WINDOW - now) if oldest else WINDOW
            retry_ms = max(1, math.ceil(wait.total_seconds() * 1000))
            raise RateLimitExceeded(
                f"Rate limit exceeded: at most {JOB_STARTS_PER_HOUR} import jobs per account per "
                "hour (ingest_items and backfill_items together)",
                retry_after_ms=retry_ms,
            )
        await conn.execute(Q["record_usage"], account_id, JOB_START, 1, now)


async def take_items(conn: Connection, account_id: int, count: int, now: datetime) -> int | None:
    """Consume `count` items of the hourly ingest budget; None when they do not fit (what is left is returned otherwise)."""
    async with conn.transaction():
        await conn.execute(Q["lock_account_usage"], account_id)
        used, _ = await _usage(conn, account_id, ITEMS, now)
        left = ITEMS_PER_HOUR - used
        if count > left:
            return None
        if count:
            await conn.execute(Q["record_usage"], account_id, ITEMS, count, now)
        return left - count


async def items_left(conn: Connection, account_id: int, now: datetime) -> int:
    used, _ = await _usage(conn, account_id, ITEMS, now)
    return ITEMS_PER_HOUR - used


async def give_back_items(
    conn: Connection, account_id: int, count: int, taken_at: datetime
) -> None:
    """Return `count` items taken at `taken_at` (rows reserved but found invalid); dated like
    the take, so that both leave the hourly window together."""
    if count > 0:
        await conn.execute(Q["record_usage"], account_id, ITEMS, -count, taken_at)
