"""The watchdog every server process runs: it ends the chunk transactions of frozen processes
that PostgreSQL does not end itself.

A process frozen (SIGSTOP, a paused VM) between two statements of a chunk loses its
transaction after IDLE_IN_TRANSACTION_SECONDS (`db.create_pool`). One frozen while it sends a
chunk's COPY data leaves its backend `active` inside COPY FROM STDIN, waiting for the client
(wait event ClientRead): no timeout applies there, and the chunk's locks (its board's row, its
job's row) would be held until the process resumed or its connection dropped. The watchdog
ends such a backend (pg_terminate_backend) once it has waited that long for data and its
job's lease has run out: a live process sends a chunk's COPY in milliseconds. The chunk's
transaction rolls back whole, and its job resumes from its last committed chunk in whichever
runner claims it next, fenced by attempt numbers; a process that lost its chunk this way and
was alive after all leaves the job (`processing.is_transient`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from server.db import CHUNK_APPLICATION_PREFIX
from server.settings import Settings
from server.store.jobs import JobStore

logger = logging.getLogger(__name__)

LOOKS_PER_PERIOD = 2  # looks per IDLE_IN_TRANSACTION_SECONDS (or lease, if shorter)


async def end_stalled_copies(jobs: JobStore, *, stalled_seconds: float) -> list[str]:
    """End the backends stuck `stalled_seconds` in a chunk's COPY whose job's lease ran out;
    return the chunks ended, as "<job id>:<attempt>"."""
    # leases run on real time, as the runner claims jobs
    ended = await jobs.end_stalled_copies(stalled_seconds=stalled_seconds, now=datetime.now(UTC))
    chunks = []
    for pid, name in ended:
        chunk = name.removeprefix(CHUNK_APPLICATION_PREFIX)
        logger.warning(
            "ended a chunk transaction stalled in its COPY past its lease: job %s, backend %s",
            chunk, pid, extra={"action": "watchdog"},
        )  # fmt: skip
        chunks.append(chunk)
    return chunks


async def run(jobs: JobStore, settings: Settings) -> None:
    """Look every half IDLE_IN_TRANSACTION_SECONDS (or half JOB_LEASE_SECONDS, if shorter); a
    failed look (the database away) is made again at the next."""
    stalled = settings.idle_in_transaction_seconds
    interval = min(stalled, settings.job_lease_seconds) / LOOKS_PER_PERIOD
    while True:
        await asyncio.sleep(interval)
        try:
            await end_stalled_copies(jobs, stalled_seconds=stalled)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database outage: the process goes on, and so does this
            logger.warning("watchdog look failed: %s", exc, extra={"action": "watchdog"})
