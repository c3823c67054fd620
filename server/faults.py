"""Fault injection for client teams (admin API, CONTRACT §5): make the next N calls of an
operation fail with a documented error, as the real service would return it.

`operation` is a GraphQL root field (`ingest_items`, `fetch_job_status`, `importTodos`...),
`upload` for the processing of the next uploaded file, `job_end` for the end of the next job
a runner runs, `copy` for the first COPY of items of the next job a runner starts, or
`s3_write` for the next writes to the embedded S3 (asked by its process before each). Faults
live in PostgreSQL, so every server process sharing the database sees them.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
from collections.abc import Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from server import sql
from server.complexity import ComplexityBudgetExhausted
from server.db import Pool
from server.errors import AppError, BadUserInput, RateLimitExceeded

Q = sql.queries("faults")

SLOW = "SLOW"  # not an error: the call is answered after params.delay_ms
DEFAULT_RETRY_AFTER_MS = 30_000  # ms, for an injected RATE_LIMIT_EXCEEDED
DEFAULT_DELAY_MS = 3_000  # ms, for an injected slow response
MAX_DELAY_MS = 60_000  # ms
# what an injected fault of each kind does to the call or the uploaded file
GRAPHQL_ERRORS = frozenset(
    {"RATE_LIMIT_EXCEEDED", "COMPLEXITY_BUDGET_EXHAUSTED", "INTERNAL_SERVER_ERROR", "NOT_FOUND",
     "USER_UNAUTHORIZED", "BAD_USER_INPUT", SLOW}
)  # fmt: skip
# S3_READ_ERROR: reading the uploaded file fails as if S3 refused it (the job is retried)
S3_READ_ERROR = "S3_READ_ERROR"
UPLOAD_REASONS = frozenset(
    {"ACCOUNT_CAPACITY_EXCEEDED", "AUTHORIZATION_FAILED", "BOARD_CAPACITY_EXCEEDED",
     "FILE_TOO_LARGE", "INTERNAL_ERROR", "INVALID_UPLOAD", "PERMISSION_DENIED", SLOW,
     S3_READ_ERROR}
)  # fmt: skip
JOB_END = "job_end"
# CRASH: the process kills itself (SIGKILL) once a job's run is over, its terminal status
# committed, before the runner does anything more: a crash test of what follows a job's end
CRASH = "CRASH"
JOB_END_ERRORS = frozenset({CRASH})
# "copy" SLOW: the next job a runner starts pauses delay_ms inside its first COPY of items,
# after the COPY began and before its data: a process stalled (or, frozen there by a test,
# stopped) while it sends a chunk's COPY data, its board's row lock held
COPY = "copy"
# "export_batch" SLOW: the next export pauses delay_ms once its first batch of records is read
# and written, its database snapshot open: an export caught mid-read by a test (a reset)
EXPORT_BATCH = "export_batch"
# "export_upload" SLOW: the next export pauses delay_ms once its file is written, its snapshot
# closed, just before it uploads the file: an upload that lands after a reset emptied the bucket
EXPORT_UPLOAD = "export_upload"
# "scratch_<file>" ENOSPC or EDQUOT: in each of the next `count` job attempts (exports,
# importTodos calls that count a file) the first write of that scratch file fails as a full
# disk (or an exhausted quota) would make it: "upload" the local copy of an uploaded file,
# "chunk" a parsing worker's chunk file, "report" an import's report, "export" an export's CSV
SCRATCH_FILES = ("upload", "chunk", "report", "export")
SCRATCH_ERRORS = frozenset({"ENOSPC", "EDQUOT"})
# "s3_write" STORAGE_FULL: the embedded S3 refuses each of the next `count` writes (an object
# or a part put, a multipart upload started), by the server or by a client through an upload
# URL, as a MinIO whose drives are full does: HTTP 507 XMinioStorageFull
S3_WRITE = "s3_write"
STORAGE_FULL = "STORAGE_FULL"
# the errors each operation that is no root field of the schema takes (those take
# GRAPHQL_ERRORS)
ERRORS_OF_OPERATION = {
    "upload": UPLOAD_REASONS,
    JOB_END: JOB_END_ERRORS,
    COPY: frozenset({SLOW}),
    EXPORT_BATCH: frozenset({SLOW}),
    EXPORT_UPLOAD: frozenset({SLOW}),
    **{f"scratch_{name}": SCRATCH_ERRORS for name in SCRATCH_FILES},
    S3_WRITE: frozenset({STORAGE_FULL}),
}
# the scratch files whose next write is to fail in this task (a job attempt, an export), with
# the errno; set by `arm_scratch`, so a job's faults never reach another job's writes
_failing_writes: ContextVar[dict[str, int] | None] = ContextVar("failing_writes", default=None)


@dataclass(frozen=True)
class Fault:
    error: str
    params: dict[str, Any]


async def add(pool: Pool, body: dict[str, Any], graphql_operations: Collection[str]) -> None:
    """Queue the fault `body` describes; `graphql_operations` are the schema's root fields."""
    operation = str(body.get("operation") or "")
    error = str(body.get("error") or "")
    count = body.get("count", 1)
    if operation not in ERRORS_OF_OPERATION and operation not in graphql_operations:
        # a misspelt operation would be queued and never fire
        raise BadUserInput(
            f"operation {operation!r} is none of the server's: {sorted(ERRORS_OF_OPERATION)} or "
            "a root field of the schema (ingest_items, fetch_job_status, importTodos...)"
        )
    allowed = ERRORS_OF_OPERATION.get(operation, GRAPHQL_ERRORS)
    if error not in allowed:
        raise BadUserInput(
            f"error must be one of {sorted(allowed)} for operation {operation or '?'!r}"
        )
    if not _is_count(count) or count < 1:
        raise BadUserInput("count must be a positive integer")
    # checked here: a malformed one would fail the faulted call with a 500 when it fires
    for name in ("retry_after_ms", "delay_ms"):
        if name in body and not (_is_count(body[name]) and body[name] >= 0):
            raise BadUserInput(f"{name} must be a whole number of milliseconds >= 0")
    if not isinstance(body.get("message", ""), str):
        raise BadUserInput("message must be a string")
    params = {k: v for k, v in body.items() if k in ("retry_after_ms", "delay_ms", "message")}
    await pool.execute(Q["add"], operation, error, count, params)


def _is_count(value: object) -> bool:
    # JSON true is no number, though Python counts bool as an int
    return isinstance(value, int) and not isinstance(value, bool)


async def clear(pool: Pool) -> None:
    await pool.execute(Q["clear"])


async def take(pool: Pool, operation: str) -> Fault | None:
    row = await pool.fetchrow(Q["take"], operation)
    return Fault(error=row["error"], params=row["params"]) if row else None


async def crash_if_asked(pool: Pool, operation: str) -> None:
    """Kill this process, as a power cut would, if a CRASH fault is queued for `operation`."""
    fault = await take(pool, operation)
    if fault is not None and fault.error == CRASH:
        os.kill(os.getpid(), signal.SIGKILL)


async def delay(fault: Fault) -> None:
    await asyncio.sleep(delay_seconds(fault))


def delay_seconds(fault: Fault) -> float:
    milliseconds = min(int(fault.params.get("delay_ms", DEFAULT_DELAY_MS)), MAX_DELAY_MS)
    return milliseconds / 1000


def graphql_error(fault: Fault, operation: str) -> AppError:
    """The documented error the real service would answer with."""
    message = str(fault.params.get("message") or "")
    if fault.error == "RATE_LIMIT_EXCEEDED":
        retry = int(fault.params.get("retry_after_ms", DEFAULT_RETRY_AFTER_MS))
        return RateLimitExceeded(
            message or "Rate limit exceeded for the requested operation", retry_after_ms=retry
        )
    if fault.error == "COMPLEXITY_BUDGET_EXHAUSTED":
        return ComplexityBudgetExhausted(cost=0, left=0, retry_in_seconds=60)
    status = {"INTERNAL_SERVER_ERROR": 500, "USER_UNAUTHORIZED": 403, "NOT_FOUND": 404}.get(
        fault.error, 400
    )
    return AppError(
        message or f"Injected {fault.error} for {operation}", code=fault.error, status_code=status
    )


async def arm_scratch(pool: Pool, files: Sequence[str]) -> None:
    """Take a "scratch_<file>" fault for each of `files`: in the calling task (and the tasks
    it starts), the first write of each file taken fails (`check_scratch_write`)."""
    operations = [f"scratch_{name}" for name in files]
    rows = await pool.fetch(Q["take_each"], operations)  # one round trip, at each job's start
    _failing_writes.set(
        {
            row["operation"].removeprefix("scratch_"): int(getattr(errno, row["error"]))
            for row in rows
        }
    )


def scratch_errno(file: str) -> int | None:
    """The errno the next write of scratch `file` is to fail with (once), or None."""
    armed = _failing_writes.get()
    return armed.pop(file, None) if armed else None


def check_scratch_write(file: str, path: object) -> None:
    """Fail as a full disk would, if a fault is armed for the next write of `file`."""
    code = scratch_errno(file)
    if code is not None:
        raise OSError(code, os.strerror(code), str(path))
