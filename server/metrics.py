"""`GET /metrics` in the Prometheus text format, computed from the database at each scrape.

Job and row figures are shared by every process (they come from PostgreSQL); active
subscriptions are this process's own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from starlette.requests import Request
from starlette.responses import Response

from server import sql
from server.services import Services

Q = sql.queries("faults")
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)  # seconds
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Snapshot:
    """A collector over metric families already built from one round of queries."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def collect(services: Services) -> list[Metric]:
    pool = services.pool
    jobs = GaugeMetricFamily(
        "importserver_jobs", "Import jobs by kind and status", labels=["kind", "status"]
    )
    for row in await pool.fetch(Q["metrics_jobs"]):
        jobs.add_metric([row["kind"], row["status"]], row["n"])
    rows = CounterMetricFamily(
        "importserver_rows", "Imported CSV rows by outcome", labels=["outcome"]
    )
    for row in await pool.fetch(Q["metrics_rows"]):
        rows.add_metric([row["status"]], row["n"])
    durations: dict[str, list[float]] = defaultdict(list)
    throughput: dict[str, tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    for row in await pool.fetch(Q["metrics_durations"]):
        durations[row["kind"]].append(row["seconds"])
        done, seconds = throughput[row["kind"]]
        throughput[row["kind"]] = (done + row["rows"], seconds + row["seconds"])
    histogram = HistogramMetricFamily(
        "importserver_job_duration_seconds",
        "Time from claim to end of finished jobs",
        labels=["kind"],
    )
    speed = GaugeMetricFamily(
        "importserver_rows_per_second", "Rows per second over all finished jobs", labels=["kind"]
    )
    for kind, values in durations.items():
        buckets = [(str(bound), sum(1 for v in values if v <= bound)) for bound in DURATION_BUCKETS]
        buckets.append(("+Inf", len(values)))
        histogram.add_metric([kind], buckets, sum(values))
        done, seconds = throughput[kind]
        speed.add_metric([kind], done / seconds if seconds > 0 else 0.0)
    subscriptions = GaugeMetricFamily(
        "importserver_active_subscriptions", "Open GraphQL subscriptions in this process"
    )
    subscriptions.add_metric([], services.events.active_subscriptions())
    lag = services.loop_lag
    lateness = HistogramMetricFamily(
        "importserver_event_loop_lag_seconds",
        "How late this process's event loop woke a task sleeping 50 ms, since the process started",
    )
    lateness.add_metric([], lag.cumulative(), lag.total)
    worst = GaugeMetricFamily(
        "importserver_event_loop_lag_max_seconds",
        "The latest this process's event loop has woken that task since the process started",
    )
    worst.add_metric([], lag.worst)
    return [jobs, rows, histogram, speed, subscriptions, lateness, worst]


def endpoint(services: Services) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(await collect(services)))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)

    return metrics
