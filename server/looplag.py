"""How late this process's event loop wakes a task that sleeps: every request waits that long
too, so a stalled loop (CPU work on it, a long collection of garbage) shows here before it
shows in request latencies. Exposed by `GET /metrics`."""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass, field

INTERVAL = 0.05  # seconds between two wake-ups
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)  # seconds late


@dataclass
class LoopLag:
    """The lateness of each wake-up since the process started: a histogram and the worst."""

    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))  # not cumulative
    observed: int = 0
    total: float = 0.0
    worst: float = 0.0

    def observe(self, late: float) -> None:
        late = max(late, 0.0)
        index = bisect.bisect_left(BUCKETS, late)
        if index < len(BUCKETS):
            self.counts[index] += 1
        self.observed += 1
        self.total += late
        self.worst = max(self.worst, late)

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus buckets: (upper bound, wake-ups at most that late), +Inf last."""
        running, buckets = 0, []
        for bound, count in zip(BUCKETS, self.counts, strict=True):
            running += count
            buckets.append((str(bound), running))
        return [*buckets, ("+Inf", self.observed)]

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(INTERVAL)
            self.observe(loop.time() - started - INTERVAL)
