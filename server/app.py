"""Building and running one server process: embedded services, routes and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from server import callbacks, clock, db, faults, fixtures, metrics, scratch
from server.api.admin import admin_routes
from server.api.schema import schema
from server.api.view import GraphQLView, MethodGuard
from server.clock import Clock
from server.embedded_s3 import EmbeddedS3
from server.events import EventBus
from server.exports import records
from server.imports import watchdog
from server.imports.runner import Runner
from server.imports.worker import ParsePool
from server.services import Services
from server.settings import Settings
from server.storage import Storage
from server.store.accounts import AccountStore
from server.store.boards import BoardStore
from server.store.jobs import JobStore

logger = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS_PER_SOCKET = 20
CLOCK_REFRESH_INTERVAL = 1.0  # seconds
# how long the embedded S3 waits to learn whether an `s3_write` fault refuses a write; past
# it (the database away, the loop stalled) the write goes through
FAULT_CHECK_TIMEOUT = 5.0  # seconds


class Runtime:
    """What one process starts and must stop: embedded servers, pool, storage, background tasks."""

    def __init__(self, settings: Settings, fixture: dict[str, Any] | None) -> None:
        self.settings = settings
        self.fixture = fixture  # settings.fixture's document, read and checked before the start
        self.clock = Clock()
        self.embedded_s3: EmbeddedS3 | None = None
        self.embedded_postgres: db.EmbeddedPostgres | None = None
        self.services: Services | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.runner: Runner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> Services:
        self._loop = asyncio.get_running_loop()
        database_url = await self._start_postgres()
        s3_endpoint = await self._start_s3()
        # what processes killed mid-job left in the temporary folder (uploads of up to 150 MB)
        await asyncio.to_thread(scratch.sweep)
        self.services = await self._open_services(database_url, s3_endpoint)
        if self.fixture is not None:
            await fixtures.load_fixture(self.services.pool, self.fixture)
        self._start_tasks(self.services)
        logger.info("server started", extra={"action": "start", "s3": s3_endpoint})
        return self.services

    async def _start_postgres(self) -> str:
        """The database's URL: the configured one, or an embedded PostgreSQL's, started."""
        if self.settings.database_url is not None:
            return self.settings.database_url
        self.embedded_postgres = db.EmbeddedPostgres(self.settings.data_dir)
        return await asyncio.to_thread(self.embedded_postgres.start)

    async def _start_s3(self) -> str:
        """The S3 endpoint: the configured one, or an embedded S3's, started."""
        settings = self.settings
        if settings.s3_endpoint_url is not None:
            return settings.s3_endpoint_url
        self.embedded_s3 = EmbeddedS3(
            access_key=settings.aws_access_key_id,
            secret_key=settings.aws_secret_access_key,
            region=settings.aws_region,
            clock_offset=self.clock.shared_offset,
            on_object_created=self._on_upload,
            refuses_write=self._refuses_write,
        )
        await asyncio.to_thread(self.embedded_s3.start)
        return self.embedded_s3.endpoint_url

    async def _open_services(self, database_url: str, s3_endpoint: str) -> Services:
        """Open the pool (migrated) and the storage, and the services over them."""
        settings = self.settings
        pool = await db.create_pool(
            database_url, idle_in_transaction_seconds=settings.idle_in_transaction_seconds
        )
        await db.migrate(pool)
        await clock.refresh(self.clock, pool)
        storage = Storage(
            endpoint_url=s3_endpoint,
            public_endpoint_url=settings.s3_public_endpoint_url,
            bucket=settings.s3_bucket,
            access_key=settings.aws_access_key_id,
            secret_key=settings.aws_secret_access_key,
            region=settings.aws_region,
            now=self.clock.time,
        )
        await storage.start()
        return Services(
            settings=settings,
            pool=pool,
            storage=storage,
            clock=self.clock,
            accounts=AccountStore(pool),
            boards=BoardStore(pool),
            jobs=JobStore(pool),
            events=EventBus(database_url, pool),
            parse_helpers=[ParsePool() for _ in range(settings.parse_workers - 1)],
        )

    def _start_tasks(self, services: Services) -> None:
        pool = services.pool
        self.tasks.append(asyncio.create_task(self._refresh_clock(pool)))
        self.tasks.append(asyncio.create_task(services.loop_lag.run()))
        self.tasks.append(asyncio.create_task(services.events.run()))
        self.tasks.append(asyncio.create_task(callbacks.Sender(pool).run()))
        # every process, runner or not: it frees the boards of a process frozen in a COPY
        self.tasks.append(asyncio.create_task(watchdog.run(services.jobs, self.settings)))
        if self.settings.run_jobs:
            self.runner = Runner(services)
            self.tasks.append(asyncio.create_task(self.runner.run()))

    def _on_upload(self, bucket: str, key: str) -> None:
        # Called on the embedded S3's relay thread: `poke` is thread-safe.
        if self.runner is not None:
            self.runner.poke()

    def _refuses_write(self, bucket: str, key: str) -> bool:
        """Whether an `s3_write` fault refuses this write to the embedded S3 (its relay thread
        asks before each write: the fault is taken on the event loop, from the database)."""
        if self.services is None or self._loop is None:
            return False  # starting: the bucket is created before any fault can be queued
        taken = asyncio.run_coroutine_threadsafe(
            faults.take(self.services.pool, faults.S3_WRITE), self._loop
        )
        try:
            return taken.result(timeout=FAULT_CHECK_TIMEOUT) is not None
        except Exception:  # the database or the loop is away: no fault can be told
            taken.cancel()
            return False

    async def _refresh_clock(self, pool: db.Pool) -> None:
        while True:
            await asyncio.sleep(CLOCK_REFRESH_INTERVAL)
            with contextlib.suppress(Exception):
                await clock.refresh(self.clock, pool)

    async def stop(self) -> None:
        await records.stop_exports()  # while the pool is open: each publishes its end
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.services is not None:
            await self.services.storage.close()
            await self.services.pool.close()
        if self.embedded_s3 is not None:
            await asyncio.to_thread(self.embedded_s3.stop)
        if self.embedded_postgres is not None:
            await asyncio.to_thread(self.embedded_postgres.stop)


def create_app(settings: Settings, fixture: dict[str, Any] | None) -> Starlette:
    """The server's app: /healthz at once, the other routes once its runtime has started and
    loaded `fixture` (the document of `settings.fixture`, which `python -m server` has read)."""
    runtime = Runtime(settings, fixture)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await runtime.start()
        app.router.routes.extend(_routes(services, settings))
        _freeze_startup_objects()
        try:
            yield
        finally:
            await runtime.stop()

    async def healthz(request: Request) -> Response:
        return await _health(runtime.services)

    return Starlette(routes=[Route("/healthz", healthz)], lifespan=lifespan)


def _routes(services: Services, settings: Settings) -> list[BaseRoute]:
    view = GraphQLView(
        services,
        schema=schema,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_SOCKET,
    )
    return [
        # with and without the trailing slash (monday's documented URL has one):
        # Starlette would answer the other spelling with a bodiless 307 redirect
        Route("/graphql", MethodGuard(view, ("GET", "POST"))),
        Route("/graphql/", MethodGuard(view, ("GET", "POST"))),
        Route("/v2", MethodGuard(view, ("POST",))),
        Route("/v2/", MethodGuard(view, ("POST",))),
        WebSocketRoute("/graphql", view),
        Route("/metrics", metrics.endpoint(services), methods=["GET"]),
        *admin_routes(services),
    ]


def _freeze_startup_objects() -> None:
    # What start-up built (modules, the schema, clients) lives as long as the process: out
    # of the collector's sight, a full collection no longer walks it and stalls the event
    # loop for tens of milliseconds (measured: 45 ms for the imported modules alone).
    gc.collect()
    gc.freeze()


async def _health(services: Services | None) -> Response:
    if services is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        await services.pool.fetchval("SELECT 1")
        s3_ok = await services.storage.ping()
    except Exception:  # any failure of a dependency means "not healthy", never a crash
        s3_ok = False
    if not s3_ok:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
