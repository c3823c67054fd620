"""The event loop's lateness: a blocked loop shows in the histogram and its worst figure."""

from __future__ import annotations

import asyncio
import re
import time

from server import looplag
from tests.conftest import Api


def test_lateness_falls_in_its_bucket_and_counts_cumulatively() -> None:
    lag = looplag.LoopLag()
    for late in (0.001, 0.004, 0.03, 0.2, 3.0, -0.001):
        lag.observe(late)
    buckets = dict(lag.cumulative())
    assert buckets["0.005"] == 3  # 1 ms, 4 ms and an early wake-up, counted as on time
    assert buckets["0.025"] == 3 and buckets["0.05"] == 4
    assert buckets["0.25"] == 5 and buckets["1.0"] == 5 and buckets["+Inf"] == 6
    assert lag.worst == 3.0 and abs(lag.total - 3.235) < 1e-9


async def test_a_blocked_loop_is_seen_late() -> None:
    lag = looplag.LoopLag()
    task = asyncio.create_task(lag.run())
    try:
        await asyncio.sleep(0.12)  # two wake-ups on time
        time.sleep(0.3)  # noqa: ASYNC251 - the loop blocked on purpose, as CPU work would
        await asyncio.sleep(0.12)
    finally:
        task.cancel()
    assert lag.observed >= 3
    assert lag.worst >= 0.2
    buckets = dict(lag.cumulative())
    assert buckets["0.1"] < buckets["0.5"]  # the blocked wake-up is between 0.1 and 0.5 s late


async def test_metrics_show_the_servers_loop_lag(api: Api) -> None:
    await asyncio.sleep(0.2)
    text = (await api.client.get("/metrics")).text
    count = re.search(r"^importserver_event_loop_lag_seconds_count (\S+)$", text, re.M)
    assert count is not None and float(count[1]) >= 1
    assert re.search(r'^importserver_event_loop_lag_seconds_bucket\{le="0.1"\} \S+$', text, re.M)
    assert re.search(r"^importserver_event_loop_lag_max_seconds \S+$", text, re.M)
