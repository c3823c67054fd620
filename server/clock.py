"""The server's clock: real time plus an offset the admin API can move (CONTRACT §5).

The offset lives in the database so every process sharing it agrees; each process keeps
a cached copy that `refresh` updates, in shared memory so that the embedded S3 endpoint's
child process judges URL expiry by the same clock at once.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import time
from datetime import UTC, datetime

from server import sql
from server.db import Pool
from server.errors import BadUserInput

Q = sql.queries("clock")
# The latest the clock may show: a year short of the end of Python's datetimes, so that the
# expiry times counted from it (a day at most) stay representable.
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.shared_offset = multiprocessing.RawValue(ctypes.c_double, 0.0)

    @property
    def offset_seconds(self) -> float:
        return self.shared_offset.value

    @offset_seconds.setter
    def offset_seconds(self, seconds: float) -> None:
        self.shared_offset.value = seconds

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
    """Move the clock `seconds` forward; BadUserInput if that is not a finite step forward
    or would take it past LATEST."""
    if not math.isfinite(seconds) or seconds < 0:
        raise BadUserInput(f"advance_seconds must be a finite number >= 0, not {seconds}")
    # the bound is checked in the update itself, against the offset another process may have set
    headroom = LATEST.timestamp() - time.time()
    offset = await pool.fetchval(Q["advance"], seconds, headroom)
    if offset is None:
        raise BadUserInput(
            f"advance_seconds {seconds:g} would move the clock past {LATEST.date().isoformat()}"
        )
    clock.offset_seconds = float(offset)


async def reset(clock: Clock, pool: Pool) -> None:
    clock.offset_seconds = float(await pool.fetchval(Q["reset"]))
