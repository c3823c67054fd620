"""Import jobs: creation, claiming with leases, fenced checkpoints and row results."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from server import callbacks, sql
from server.db import CHUNK_APPLICATION_PREFIX, Connection, Pool
from server.store.records import Row, from_row

Q = sql.queries("jobs")

EMPTY_COUNTS = {"submitted": 0, "invalid": 0, "skipped": 0, "created": 0, "updated": 0, "failed": 0}


@dataclass(frozen=True, kw_only=True)
class Job:
    id: uuid.UUID
    kind: str
    account_id: int
    board_id: int
    group_id: str
    user_id: int
    options: dict[str, Any]
    status: str
    object_key: str
    upload_expires_at: datetime
    counts: dict[str, int]
    progress: int
    total_rows: int | None
    failure_reason: str | None
    failure_message: str | None
    report_key: str | None
    attempt: int
    checkpoint_line: int
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(cls, row, counts={**EMPTY_COUNTS, **row["counts"]})


@dataclass(kw_only=True, slots=True)  # not frozen: a frozen dataclass is built twice as slowly
class RowResult:
    """One CSV row's outcome, kept for the report."""

    line: int
    status: str  # invalid | skipped | failed | created | updated
    item_id: int | None
    errors: list[dict[str, str]]
    cells: list[str]


ROW_RESULT_COLUMNS = ["job_id", "line", "status", "item_id", "errors", "cells"]
CLEAN = frozenset({"created", "updated"})  # outcomes a report lists only when asked to


class StaleAttempt(Exception):
    """A runner whose lease was taken over tried to write: its transaction is rolled back."""


def _row_result(row: Row) -> RowResult:
    return RowResult(
        line=row["line"], status=row["status"], item_id=row["item_id"], errors=row["errors"],
        cells=row["cells"],
    )  # fmt: skip


class JobStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def raw_job(self, job_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(Q["raw_job"], job_id)
        return dict(row) if row else None

    async def create(
        self,
        conn: Connection,
        *,
        kind: str,
        account_id: int,
        board_id: int,
        group_id: str,
        user_id: int,
        options: dict[str, Any],
        upload_expires_at: datetime,
        now: datetime,
        object_key: str | None = None,
        status: str = "UPLOAD_PENDING",
    ) -> Job:
        job_id = uuid.uuid4()
        row = await conn.fetchrow(
            Q["create_job"],
            job_id,
            kind,
            account_id,
            board_id,
            group_id,
            user_id,
            options,
            object_key or f"uploads/{job_id}.csv",
            upload_expires_at,
            now,
            status,
        )
        assert row is not None
        return Job.from_row(row)

    async def merge_options(self, job: Job, extra: dict[str, Any]) -> None:
        await self.pool.execute(Q["merge_options"], job.id, extra)

    async def get(self, job_id: uuid.UUID) -> Job | None:
        row = await self.pool.fetchrow(Q["raw_job"], str(job_id))
        return Job.from_row(row) if row else None

    async def job_of_account(self, job_id: str, account_id: int) -> Job | None:
        """The account's monday import job of that id; None for another account's, a Blue
        import's, an unknown id, or a text that is no job id at all (a NUL byte, which
        PostgreSQL refuses in any text)."""
        try:
            parsed = uuid.UUID(job_id)
        except ValueError:
            return None
        if str(parsed) != job_id:
            return None  # job ids are answered in this form only: no other spelling names one
        row = await self.pool.fetchrow(Q["job_of_account"], parsed, account_id)
        return Job.from_row(row) if row else None

    async def pending_uploads(self, expired_after: datetime) -> list[Job]:
        """Jobs waiting for their file whose upload URL expires after `expired_after`."""
        rows = await self.pool.fetch(Q["pending_uploads"], expired_after)
        return [Job.from_row(row) for row in rows]

    async def mark_uploaded(self, job_id: uuid.UUID) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            marked = str(await conn.execute(Q["mark_uploaded"], job_id)) == "UPDATE 1"
            await conn.execute(Q["notify_changed"], str(job_id))
        return marked

    async def claim(self, lease_until: datetime, now: datetime) -> Job | None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(Q["lock_claims"])
            row = await conn.fetchrow(Q["claim_job"], lease_until, now)
        return Job.from_row(row) if row else None

    async def renew_lease(self, job: Job, lease_until: datetime) -> bool:
        result = await self.pool.execute(Q["renew_lease"], job.id, job.attempt, lease_until)
        return str(result) == "UPDATE 1"

    async def end_stalled_copies(
        self, *, stalled_seconds: float, now: datetime
    ) -> list[tuple[int, str]]:
        """End the backends stuck `stalled_seconds` inside a chunk's COPY whose job's lease ran
        out before `now` (end_stalled_copies); return each one's pid and name."""
        rows = await self.pool.fetch(
            Q["end_stalled_copies"], CHUNK_APPLICATION_PREFIX, stalled_seconds, now
        )
        return [(row["pid"], row["application_name"]) for row in rows]

    @staticmethod
    async def fence(conn: Connection, job: Job) -> None:
        """First in a chunk's transaction: raise StaleAttempt if the job is no longer this
        runner's (taken over, ended, or gone with an admin reset), before anything is written:
        a write that referred to a job row no longer there was refused as if its rows were
        bad, and retried one by one. The transaction is named after the job (fence_job)."""
        fenced = await conn.fetchval(Q["fence_job"], job.id, job.attempt, CHUNK_APPLICATION_PREFIX)
        if fenced is None:
            raise StaleAttempt(str(job.id))

    async def save_progress(
        self,
        conn: Connection,
        job: Job,
        *,
        checkpoint_line: int,
        counts: dict[str, int],
        progress: int,
        total_rows: int,
        state: dict[str, Any],
    ) -> None:
        """Checkpoint inside the caller's chunk transaction; raise StaleAttempt if fenced out."""
        result = await conn.execute(
            Q["save_progress"],
            job.id,
            job.attempt,
            checkpoint_line,
            counts,
            progress,
            total_rows,
            state,
        )
        if str(result) != "UPDATE 1":
            raise StaleAttempt(str(job.id))
        await conn.execute(Q["notify_changed"], str(job.id))  # sent when the chunk commits

    @staticmethod
    async def insert_row_results(
        conn: Connection,
        job: Job,
        results: Sequence[RowResult],
        *,
        created: tuple[Sequence[int], Sequence[int]] = ((), ()),
    ) -> None:
        """Store a chunk's results: clean ones with nothing to report as one row of arrays,
        with the lines and item ids of the rows `created` without a result; the others a row
        each. A line or a chunk already written raises UniqueViolationError."""
        lines, item_ids = list(created[0]), list[int | None](created[1])
        statuses = ["created"] * len(lines)
        listed: list[RowResult] = []
        for r in results:
            if r.status in CLEAN and not r.errors and not r.cells:
                lines.append(r.line)
                statuses.append(r.status)
                item_ids.append(r.item_id)
            else:
                listed.append(r)
        if lines:  # keyed by the chunk's first line: a chunk written twice is refused
            await conn.execute(Q["insert_clean_rows"], job.id, lines[0], lines, statuses, item_ids)
        if listed:  # COPY: the fastest way in
            await conn.copy_records_to_table(
                "import_rows",
                columns=ROW_RESULT_COLUMNS,
                records=[(job.id, r.line, r.status, r.item_id, r.errors, r.cells) for r in listed],
            )

    @staticmethod
    async def outcome_counts(
        conn: Pool | Connection, job_id: uuid.UUID, submitted: int
    ) -> dict[str, int]:
        """The job's counts, from its row results: the one source of truth, even after a resume."""
        counts = dict(EMPTY_COUNTS)
        for row in await conn.fetch(Q["count_outcomes"], job_id):
            counts[row["status"]] = row["n"]
        counts["submitted"] = submitted
        return counts

    async def unclean_row_results(self, job_id: uuid.UUID, limit: int) -> list[RowResult]:
        """The first `limit` rows that were not created or updated, without reading the rest."""
        rows = await self.pool.fetch(Q["unclean_row_results"], job_id, limit)
        return [_row_result(r) for r in rows]

    async def row_results_page(
        self, job_id: uuid.UUID, *, clean: bool, lines: range, limit: int
    ) -> list[RowResult]:
        """Up to `limit` of the job's row results with lines in `lines`, by line; without
        `clean`, only rows not created or updated. A page, not all of them: the rows keep
        their cells, and a job's could fill the server's memory."""
        rows = await self.pool.fetch(
            Q["row_results_page"], job_id, clean, lines.start - 1, lines.stop, limit
        )
        return [_row_result(r) for r in rows]

    async def finish(
        self,
        job: Job,
        *,
        status: str,
        counts: dict[str, int],
        progress: int,
        now: datetime,
        failure_reason: str | None = None,
        failure_message: str | None = None,
        report_key: str | None = None,
        total_rows: int | None = None,
    ) -> bool:
        """End the job with its terminal status and queue its callback, in one transaction;
        False (nothing written) if another runner took the job over."""
        async with self.pool.acquire() as conn, conn.transaction():
            return await self.finish_in(
                conn, job, status=status, counts=counts, progress=progress, now=now,
                failure_reason=failure_reason, failure_message=failure_message,
                report_key=report_key, total_rows=total_rows,
            )  # fmt: skip

    @staticmethod
    async def finish_in(
        conn: Connection,
        job: Job,
        *,
        status: str,
        counts: dict[str, int],
        progress: int,
        now: datetime,
        failure_reason: str | None = None,
        failure_message: str | None = None,
        report_key: str | None = None,
        total_rows: int | None = None,
    ) -> bool:
        """`finish` inside the caller's transaction: a Blue import ends in its last chunk's,
        so that no cancel can be recorded between that chunk and the job's end."""
        result = await conn.execute(
            Q["finish_job"], job.id, job.attempt, status, counts, progress, failure_reason,
            failure_message, report_key, now, total_rows,
        )  # fmt: skip
        finished = str(result) == "UPDATE 1"
        if finished:
            await callbacks.queue(conn, job.id)
        await conn.execute(Q["notify_changed"], str(job.id))
        return finished
