"""Exporting a workspace's records to CSV in the background, as Blue's exportTodos does.

The caller gets `true` at once; a background task streams the matching records from one
database snapshot in batches into a temporary file, uploads it, and delivers the link the
way Blue does: by e-mail (kept in the outbox, since this server sends no mail) and in the
final EXPORT progress event. Rows use the template's columns, so the file imports back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server import db, diskfull, errors, events, faults, scratch
from server.db import Connection
from server.exports import template
from server.imports import blue_fields, cells
from server.services import Services
from server.store import directory as directory_store
from server.store.exports import ExportRecord, ExportStore, RecordFilter
from server.store.records import Board, User

logger = logging.getLogger(__name__)

EXPORT_URL_TTL = timedelta(hours=24)
EXPORT_WINDOW = timedelta(seconds=50)  # at most one export per user in this window
BATCH_ROWS = 500  # records per progress event, and per database fetch at most
BATCH_BYTES = 4 * 1024 * 1024  # a batch's records weigh about this much at most (one can be more)
IN_PROGRESS_CAP = 99.0  # percent; 100 is kept for the finished, uploaded file
# Exports of one process that read at once. Each holds a pooled connection for its whole read
# (one snapshot) and takes a second one to publish each batch's event: with as many exports
# as the pool has connections, every one waited for a connection the others held, and so did
# every request of the server, for ever. A third of the pool: two connections each, and a
# third left for requests and imports.
EXPORT_CONCURRENCY = max(1, db.POOL_MAX // 3)  # exports
FAILED_MESSAGE = "The export failed. Please try again."
DISK_FULL_MESSAGE = "The export failed: the server ran out of disk space. Please try again later."
STORE_FULL_MESSAGE = (
    "The export failed: the object store is out of space for its file. Please try again later."
)
STOPPED_MESSAGE = "The export was stopped: the server shut down. Please try again."
RESET_MESSAGE = "The export was stopped by a reset of the data that then failed. Please try again."

# Running exports: the event loop keeps only weak references to tasks.
_running: set[asyncio.Task[None]] = set()
_reading = asyncio.Semaphore(EXPORT_CONCURRENCY)  # the others wait, at IN_PROGRESS 0.0


async def request_export(
    services: Services, user: User, board: Board, record_filter: RecordFilter
) -> None:
    """Take the user's export slot (or raise RATE_LIMITED) and start the export."""
    store = ExportStore(services.pool)
    slot = await store.take_export_slot(user.id, board.id, services.clock.now(), EXPORT_WINDOW)
    if slot.request_id is None:
        wait = slot.wait or EXPORT_WINDOW
        seconds = max(1, math.ceil(wait.total_seconds()))
        raise errors.RateLimited(
            f"You can export once every {int(EXPORT_WINDOW.total_seconds())} seconds. "
            f"Please try again in {seconds} seconds.",
            retry_after_ms=max(1, math.ceil(wait.total_seconds() * 1000)),
        )
    task = asyncio.create_task(
        export_records(services, user, board, record_filter, slot.request_id),
        name=f"export-{board.id}-{user.id}",
    )
    _running.add(task)
    task.add_done_callback(_running.discard)


async def stop_exports() -> None:
    """Stop this process's running exports, each ending with an ERROR event. Called at
    shutdown while the database is still there: a cancelled export publishes its end."""
    for task in list(_running):
        task.cancel()
    await asyncio.gather(*_running, return_exceptions=True)


def _event(
    user: User,
    board: Board,
    status: str,
    progress: float,
    *,
    error: str | None = None,
    file_url: str | None = None,
    total: int | None = None,
) -> events.ProgressEvent:
    event = events.progress_event("EXPORT", user, board, status, progress, error)
    if status == "COMPLETE":  # what the export made, once there is something
        event["fileUrl"], event["totalCount"] = file_url, total
    return event


class _ExportGone(Exception):
    """An admin reset removed the export's request: the export stops without a word."""


class _ResetPending(Exception):
    """An admin reset waits for the export's snapshot to let go: it is about to remove the
    export with the rest of the data."""


@dataclass(kw_only=True)
class _Export:
    """One running export: who asked, for which workspace, and how far it got."""

    services: Services
    user: User
    board: Board
    request_id: int
    progress: float = 0.0  # the latest IN_PROGRESS percentage; an ERROR event repeats it
    total: int = 0  # the records written, once the file is

    async def publish(
        self, status: str, *, mail: _Mail | None = None, reading: bool = False, **extra: Any
    ) -> None:
        """Publish an event (and send the mail) in one transaction, unless an admin reset
        removed the export meanwhile: what it would write then lands in the new data.
        `reading`: the export's snapshot is open, so it must not wait for a reset, which
        waits for that snapshot (_ResetPending instead)."""
        event = _event(self.user, self.board, status, self.progress, **extra)
        async with self.services.pool.acquire() as conn, conn.transaction():
            # no reset runs from here to the commit
            if not await ExportStore.share_data(conn, wait=not reading):
                raise _ResetPending
            if not await ExportStore.request_exists(conn, self.request_id):
                raise _ExportGone
            await events.publish(conn, self.board.id, self.user.id, event)
            if mail is not None:
                await mail.send(ExportStore(self.services.pool), conn, self.services.clock.now())


async def export_records(
    services: Services, user: User, board: Board, record_filter: RecordFilter, request_id: int
) -> None:
    """Write, upload and deliver one export; failures end in an ERROR event, never raise."""
    log_extra = {"board_id": board.id, "user_id": user.id, "action": "export"}
    run = _Export(services=services, user=user, board=board, request_id=request_id)
    key = f"exports/{user.account_slug}/{board.slug}/{uuid.uuid4()}.csv"
    try:
        try:
            await _run(run, record_filter, key)
        except BaseException:
            # A file whose link no one gets must not stay. Above all an export that an admin
            # reset removed: its upload may land after the reset emptied the bucket, and
            # only the export knows its file. Its COMPLETE event, which checks for the
            # export under the data lock once the upload is over, found it gone (after the
            # reset committed, or the reset ran after that event and deleted the file).
            await _discard(services, key, log_extra)
            raise
        logger.info("export complete", extra={**log_extra, "records": run.total})
    except _ExportGone:
        logger.info("export dropped: the data was reset", extra=log_extra)
    except _ResetPending:
        # its snapshot let go and the reset runs: once it is over the export is gone with the
        # data and says no more, or (a reset that failed) it ends with an ERROR event
        await _publish_failure(run, RESET_MESSAGE, log_extra)
    except asyncio.CancelledError:
        # the server is stopping: the export's state would otherwise say it runs for ever
        logger.warning("export stopped at shutdown", extra=log_extra)
        await _publish_failure(run, STOPPED_MESSAGE, log_extra)
        raise
    # Any failure is reported to the user as an ERROR event: the task must not die silently.
    except Exception as exc:
        logger.exception("export failed", extra=log_extra)
        message = exc.message if isinstance(exc, errors.AppError) else FAILED_MESSAGE
        if isinstance(exc, errors.StorageFull):
            message = STORE_FULL_MESSAGE
        elif diskfull.is_full(exc):
            message = DISK_FULL_MESSAGE
        await _publish_failure(run, message, log_extra)


async def _run(run: _Export, record_filter: RecordFilter, key: str) -> None:
    """Write and upload the file to `key`, then deliver its link (event and mail)."""
    services, user, board = run.services, run.user, run.board
    await run.publish("IN_PROGRESS")
    async with _reading:
        run.total = await _write_and_upload(run, record_filter, key)
    now = services.clock.now()
    url = await services.storage.presign_get(
        key,
        expires_in=int(EXPORT_URL_TTL.total_seconds()),
        filename=f"{board.slug}-export-{now:%Y%m%d-%H%M%S}.csv",
    )
    run.progress = 100.0
    mail = _Mail(user=user, board=board, url=url, total=run.total)
    await run.publish("COMPLETE", mail=mail, file_url=url, total=run.total)


async def _discard(services: Services, key: str, log_extra: dict[str, Any]) -> None:
    """Delete the export's file, if it was uploaded (deleting no file is no error)."""
    try:
        await services.storage.delete(key)
    except errors.StorageError:  # S3 may be what failed; the file is then only left over
        logger.warning("could not delete the file of an undelivered export", extra=log_extra)


async def _publish_failure(run: _Export, message: str, log_extra: dict[str, Any]) -> None:
    try:
        await run.publish("ERROR", error=message)
    except _ExportGone:
        # the data was reset: no one is waiting for this export any more
        logger.info("export dropped: the data was reset", extra=log_extra)
    except Exception:  # the database may be what failed; the log above has the cause
        logger.exception("could not publish export failure", extra=log_extra)


async def _write_and_upload(run: _Export, record_filter: RecordFilter, key: str) -> int:
    """Stream the records into a temporary CSV file, upload it to `key`; return the count."""
    services, user, board = run.services, run.user, run.board
    layout = await template.load_layout(services, board)
    # every tag of the account: a stored value is shown as it is, whichever tags it holds
    directory = await directory_store.load_directory(
        services.pool, user.account_id, [board.id, *layout.relation_board_ids], board_id=None
    )
    store = ExportStore(services.pool)
    await faults.arm_scratch(services.pool, ("export",))
    # a scratch folder: a process killed mid-export leaves it to the next server's sweep
    with scratch.folder("export") as tmp:
        path = os.path.join(tmp, "export.csv")
        opened = functools.partial(open, path, "w", encoding="utf-8", newline="")
        with await asyncio.to_thread(opened) as file:
            faults.check_scratch_write("export", path)
            await asyncio.to_thread(file.write, template.csv_text([layout.header]))
            written = 0
            batches = store.record_batches(board.id, record_filter, BATCH_ROWS, BATCH_BYTES)
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    # rendered and written off the event loop, row by row: a batch of long
                    # descriptions held the loop (and built its whole CSV text) for seconds
                    rows = (_row(board, layout, directory, record) for record in batch.records)
                    await asyncio.to_thread(template.write_csv, file, rows)
                    written += len(batch.records)
                    # never decreasing, and 100 only once the file is uploaded; two decimals,
                    # as an import's events give it
                    run.progress = max(
                        run.progress,
                        min(IN_PROGRESS_CAP, round(written * 100 / batch.total, 2)),
                    )
                    if written == len(batch.records):  # the first batch
                        await _hold_if_asked(services, faults.EXPORT_BATCH)
                    # every BATCH_ROWS records (a batch of heavy records is fewer) and at the end
                    if written % BATCH_ROWS == 0 or written == batch.total:
                        await run.publish("IN_PROGRESS", reading=True)
        await _hold_if_asked(services, faults.EXPORT_UPLOAD)
        await services.storage.put_file(key, path)
    return written


async def _hold_if_asked(services: Services, operation: str) -> None:
    """Pause as an injected `export_batch` or `export_upload` fault asks: a test catches the
    export mid-read, or about to upload its file."""
    fault = await faults.take(services.pool, operation)
    if fault is not None:
        await faults.delay(fault)


def _row(
    board: Board, layout: template.Layout, directory: cells.Directory, record: ExportRecord
) -> list[str]:
    """One record in the template's columns (neutralised later, with the whole row)."""
    return [
        record.name,
        record.list,
        blue_fields.render_done(record.done),
        blue_fields.render_timestamp(record.start_date),
        blue_fields.render_timestamp(record.due_date),
        record.description or "",
        blue_fields.join_names(record.assignees),
        blue_fields.render_timestamp(record.created_at),
        blue_fields.render_timestamp(record.updated_at),
        record.creator or "",
        record.color or "",
        board.name,
        blue_fields.join_names(record.tags),
        *layout.custom_cells(record.values, directory),
    ]


@dataclass(frozen=True, kw_only=True)
class _Mail:
    """The e-mail that delivers an export's link (kept in the outbox: no mail is sent)."""

    user: User
    board: Board
    url: str
    total: int

    async def send(self, store: ExportStore, conn: Connection, now: datetime) -> None:
        noun = "record" if self.total == 1 else "records"
        hours = int(EXPORT_URL_TTL.total_seconds() // 3600)
        body = (
            f"Hi {events.first_name(self.user) or self.user.email},\n\n"
            f"Your export of {self.total} {noun} from {self.board.name} is ready. Download the "
            f"CSV file here (the link expires in {hours} hours):\n\n{self.url}\n"
        )
        await store.send_message(
            conn=conn,
            account_id=self.user.account_id,
            to=self.user.email,
            subject=f"Your export of {self.board.name} is ready",
            body=body,
            links=[self.url],
            now=now,
        )
