"""The job runner of one process: notices uploads, claims jobs, holds their lease.

Jobs are claimed in the database (FOR UPDATE SKIP LOCKED), so several processes share the
work and a job never runs twice at once; a lease renewed by a heartbeat lets another runner
take over the job of a process that died, with a higher attempt number that fences out any
late write of the dead one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from server import callbacks, faults
from server.imports import processing, subitems
from server.imports import status as job_status
from server.imports.blue import process_blue_job
from server.services import Services
from server.store.jobs import Job

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.5  # seconds between looks for uploads and claimable jobs
# S3 checks a pre-signed URL's expiry when the PUT begins: a large file sent just in time may
# land well after it, and must still start its job
UPLOAD_GRACE = timedelta(hours=1)  # after the upload URL expires
HEARTBEATS_PER_LEASE = 6  # a lease survives a few missed beats


class Runner:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.lease = timedelta(seconds=services.settings.job_lease_seconds)
        self.heartbeat_interval = services.settings.job_lease_seconds / HEARTBEATS_PER_LEASE
        self.wake = asyncio.Event()  # wakes the job loop
        self.uploads_wake = asyncio.Event()  # wakes the upload loop
        self.loop: asyncio.AbstractEventLoop | None = None

    def poke(self) -> None:
        """Wake the runner from any thread (the embedded S3 calls this on each upload)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.uploads_wake.set)

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        try:
            for pool in self.services.parse_pools:
                await pool.start()  # now, not in the first job's time
            async with asyncio.TaskGroup() as loops:
                loops.create_task(self._uploads_loop())
                loops.create_task(self._loop())
        finally:
            for pool in self.services.parse_pools:
                pool.stop()

    async def _loop(self) -> None:
        await _repeat(self._run_claimable, self.wake, "run")

    async def _uploads_loop(self) -> None:
        """Uploads are looked for apart from the job loop: a file uploaded while a long job
        runs is noticed at once (the job shows PROCESSING), not when that job ends."""
        await _repeat(self._notice_uploads, self.uploads_wake, "upload")

    async def _run_claimable(self) -> None:
        while (job := await self.claim()) is not None:
            await self.run_job(job)
        await self.write_callbacks()  # of jobs whose process died as they ended

    async def _notice_uploads(self) -> None:
        if await self.detect_uploads():
            self.wake.set()

    async def detect_uploads(self) -> bool:
        """Move the jobs whose files have arrived to PROCESSING; whether there were any."""
        services = self.services
        noticed = False
        for job in await services.jobs.pending_uploads(services.clock.now() - UPLOAD_GRACE):
            keys = [job.object_key]
            if job.options.get("subitems"):  # both files must be there
                keys.append(subitems.children_key(job))
            if all([await services.storage.head(key) is not None for key in keys]):
                noticed = await services.jobs.mark_uploaded(job.id) or noticed
                logger.info("upload noticed", extra={"job_id": str(job.id), "action": "upload"})
        return noticed

    async def claim(self) -> Job | None:
        # leases are about process liveness, so they run on real time, not the admin clock
        now = datetime.now(UTC)
        return await self.services.jobs.claim(now + self.lease, now)

    async def run_job(self, job: Job) -> None:
        process = process_blue_job if job.kind == "blue" else processing.process_job
        work = asyncio.create_task(process(self.services, job))
        heartbeat = asyncio.create_task(self._heartbeat(job, work))
        try:
            await work
        except Exception as exc:
            # a job's process raises only what it could not handle: an outage met before its
            # own try (the blue import's first reads) leaves the job claimed, and resumed
            if not processing.is_transient(exc):
                raise
            logger.warning(
                "job %s interrupted, will resume: %s", job.id, processing.describe(exc),
                extra={"job_id": str(job.id), "action": "run"},
            )  # fmt: skip
            return
        except asyncio.CancelledError:
            # the heartbeat cancelled the work (lease lost): carry on with the next job; but a
            # cancel of the runner itself (shutdown) cancels the work too, and must go through,
            # or the runner claims the next job and shutdown waits for ever
            if not work.cancelled() or _cancelling():
                raise
            logger.warning("job lease lost", extra={"job_id": str(job.id), "action": "heartbeat"})
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await faults.crash_if_asked(self.services.pool, faults.JOB_END)
        await self.write_callbacks()

    async def write_callbacks(self) -> None:
        """Give the callbacks that ended jobs queued (in the transaction that ended them) their
        body: the job's status, with report links signed now."""
        services = self.services
        for job_id in await callbacks.unwritten(services.pool):
            ended = await services.jobs.get(job_id)
            if ended is not None:
                payload = await job_status.status_payload(services, ended)
                await callbacks.write_body(services.pool, job_id, payload)

    async def _heartbeat(self, job: Job, work: asyncio.Task[None]) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                renewed = await self.services.jobs.renew_lease(job, datetime.now(UTC) + self.lease)
            except Exception:  # a database blip: keep working, the next beat retries
                logger.warning("heartbeat failed", extra={"job_id": str(job.id)})
                continue
            if not renewed and not work.done():
                work.cancel()
                return


def _cancelling() -> bool:
    """Whether the running task itself was asked to stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _repeat(step: Callable[[], Awaitable[None]], wake: asyncio.Event, action: str) -> None:
    """Run `step` when woken, or every POLL_INTERVAL; it survives a database or S3 outage."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if processing.is_transient(exc):  # the database or S3 away: expected, and retried
                logger.warning(
                    "runner %s step failed, will retry: %s", action, processing.describe(exc),
                    extra={"action": action},
                )  # fmt: skip
            else:
                logger.exception("runner iteration failed", extra={"action": action})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), POLL_INTERVAL)
        wake.clear()
