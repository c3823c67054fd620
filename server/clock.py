"""The server's clock: real time plus an offset the admin API can move (CONTRACT §5).

The offset lives in the database so every process sharing it agrees; each process keeps
a cached copy that `refresh` updates.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from server import sql
from server.db import Pool

Q = sql.queries("clock")


class Clock:
    def __init__(self) -> None:
        self.offset_seconds = 0.0

    def time(self) -> float:
        """Seconds since the epoch, on the server clock."""
        return time.time() + self.offset_seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)


async def refresh(clock: Clock, pool: Pool) -> None:
    """Pick up an offset another process may have set."""
    offset = await pool.fetchval(Q["get_offset"])
    clock.offset_seconds = float(offset or 0.0)


async def advance(clock: Clock, pool: Pool, seconds: float) -> None:
    clock.offset_seconds = float(await pool.fetchval(Q["advance"], seconds))


async def reset(clock: Clock, pool: Pool) -> None:
    clock.offset_seconds = float(await pool.fetchval(Q["reset"]))
