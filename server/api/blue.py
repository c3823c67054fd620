"""Blue-style import: createFileUpload, importTodos, cancelTodoImport, the import report and
the subscribeToImportExportProgress subscription (camelCase, as Blue spells them)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path
from typing import cast

import asyncpg
import strawberry
from strawberry.scalars import JSON

from server import diskfull, events, faults, scratch, sql
from server.api.context import Info
from server.errors import AppError, BadUserInput, Forbidden, ProjectNotFound, shown
from server.imports import blue as blue_import
from server.imports import csvfile, processing
from server.store.records import EDIT_ROLES, MANAGE_ROLES, Board

Q = sql.queries("imports")
UPLOAD_URL_TTL = timedelta(minutes=10)
REPORT_URL_TTL = timedelta(minutes=10)
S3_KEY = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_./-]*$")
MAX_REPORTED_ERRORS = 1000  # rows listed in todoImportReport; the report file has them all
PROJECT_NOT_FOUND = "Project was not found."


class TodoImportLimit(AppError):
    code = "TODO_IMPORT_LIMIT"


class ImportAlreadyInProgress(AppError):
    code = "IMPORT_ALREADY_IN_PROGRESS"


async def visible_project(info: Info, project_id: str) -> Board:
    board = await info.context.services.boards.board_for_user(info.context.user, project_id)
    if board is None or board.state == "deleted":
        raise ProjectNotFound(PROJECT_NOT_FOUND)
    return board


def check_s3_key(key: str) -> None:
    if not S3_KEY.match(key) or ".." in key:
        raise BadUserInput(
            "Invalid s3Key: use letters, digits, '_', '.', '/' and '-', starting with a letter or digit, without '..'"
        )


def _safe_filename(filename: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_.-]+", "-", Path(filename).name).strip("-.") or "import.csv"
    return name[:120]


@strawberry.input
class CreateFileUploadInput:
    projectId: str
    filename: str


@strawberry.type
class FileUpload:
    s3Key: str
    uploadUrl: str
    expiresAt: str


@strawberry.input
class ImportTodosInput:
    s3Key: str
    headers: JSON
    projectId: str
    useRustImport: bool | None = False
    dryRun: bool | None = strawberry.field(
        default=False,
        description="Validate the whole file and fill todoImportReport; create nothing.",
    )


@strawberry.type
class TodoImportError:
    line: int
    column: str
    code: str
    message: str


@strawberry.type
class TodoImportReport:
    status: str
    progress: float
    total: int
    imported: int
    failed: int
    error: str | None
    unknownHeaders: list[str]
    errors: list[TodoImportError]


BLUE_STATUS = {
    "PROCESSING": "IN_PROGRESS",
    "COMPLETED": "COMPLETE",
    "CANCELLED": "CANCELLED",
    "FAILED": "ERROR",
}


async def _import_todos(info: Info, input: ImportTodosInput) -> bool:
    services = info.context.services
    user = info.context.user
    # access first: an unknown or hidden workspace is PROJECT_NOT_FOUND whatever the key
    board = await visible_project(info, input.projectId)
    if board.role not in EDIT_ROLES:
        raise Forbidden("You are not authorized to import records into this workspace.")
    check_s3_key(input.s3Key)
    try:
        headers = blue_import.parse_headers(input.headers)
    except ValueError as exc:
        raise BadUserInput(str(exc)) from exc
    running = await services.pool.fetchrow(Q["running_blue_import"], board.id)
    if running is not None:
        if input.useRustImport:
            return True  # documented: the Rust importer silently accepts a second call
        raise ImportAlreadyInProgress("Import already in progress.")
    # only the caller's own account's uploads: another account's key reads as a missing file
    own = input.s3Key.startswith(f"uploads/{user.account_slug}/")
    size = await services.storage.head(input.s3Key) if own else None
    if size is None:
        raise BadUserInput(
            f"No file at s3Key {shown(input.s3Key)}: upload it first (createFileUpload)"
        )
    if user.account_plan != "enterprise":
        records = await _count_records(info, input.s3Key, headers)
        if records > blue_import.TODO_IMPORT_LIMIT:
            raise TodoImportLimit("You are importing too many todos.")
    now = services.clock.now()
    options = {
        "headers": headers,
        "useRustImport": bool(input.useRustImport),
        "dryRun": bool(input.dryRun),
    }
    groups = (await services.boards.groups([board.id]))[board.id]
    try:
        async with services.pool.acquire() as conn, conn.transaction():
            await services.jobs.create(
                conn, kind="blue", account_id=user.account_id, board_id=board.id,
                group_id=groups[0].id if groups else "topics", user_id=user.id, options=options,
                upload_expires_at=now, now=now, object_key=input.s3Key, status="PROCESSING",
            )  # fmt: skip
            # Accepted: the import may wait behind another job of the workspace before it
            # starts, and a subscriber learns at once that it is on its way (and one that
            # connects later, from this remembered state). Blue names no status for a queued
            # import: IN_PROGRESS at 0, as at the start of one that runs at once.
            accepted = blue_import.progress_event(user, board, "IN_PROGRESS", 0.0)
            await events.publish(conn, board.id, user.id, accepted)
    except asyncpg.UniqueViolationError as exc:  # another call won the race
        if input.useRustImport:
            return True
        raise ImportAlreadyInProgress("Import already in progress.") from exc
    return True


async def _count_records(info: Info, key: str, headers: list[str]) -> int:
    services = info.context.services
    await faults.arm_scratch(services.pool, ("upload",))
    try:
        with scratch.folder("blue-count") as tmp:
            path = Path(tmp) / "file.csv"
            await processing.download(services, key, path, None)
            try:
                return await asyncio.to_thread(
                    blue_import.count_records, path, headers, blue_import.TODO_IMPORT_LIMIT + 1
                )
            except csvfile.InvalidUpload as exc:
                raise BadUserInput(exc.message) from exc
    except OSError as exc:
        if diskfull.is_full(exc):  # no job was started: the caller may simply try again
            raise diskfull.request_error(exc) from exc
        raise


async def _cancel(info: Info, project_id: str) -> bool:
    board = await visible_project(info, project_id)
    if board.role not in MANAGE_ROLES:
        raise Forbidden("Only workspace administrators can cancel imports.")
    # false when no import runs, or when the running one has already written its last chunk
    # (it ends COMPLETE): true only when the import will end CANCELLED
    recorded = await info.context.services.pool.fetchval(Q["request_cancel"], board.id)
    return recorded is not None


@strawberry.type
class BlueMutation:
    @strawberry.mutation
    async def createFileUpload(self, info: Info, input: CreateFileUploadInput) -> FileUpload:
        board = await visible_project(info, input.projectId)
        services = info.context.services
        key = f"uploads/{info.context.user.account_slug}/{board.slug}/{uuid.uuid4()}/{_safe_filename(input.filename)}"
        check_s3_key(key)
        url = await services.storage.presign_put(
            key, expires_in=int(UPLOAD_URL_TTL.total_seconds())
        )
        expires = services.clock.now() + UPLOAD_URL_TTL
        return FileUpload(s3Key=key, uploadUrl=url, expiresAt=expires.isoformat())

    @strawberry.mutation(
        description="Import records from a CSV already in storage; runs in the background."
    )
    async def importTodos(self, info: Info, input: ImportTodosInput) -> bool:
        return await _import_todos(info, input)

    @strawberry.mutation(description="Blue's newer name for importTodos.")
    async def importRecords(self, info: Info, input: ImportTodosInput) -> bool:
        return await _import_todos(info, input)

    @strawberry.mutation
    async def cancelTodoImport(self, info: Info, projectId: str) -> bool:
        return await _cancel(info, projectId)

    @strawberry.mutation(description="Blue's newer name for cancelTodoImport.")
    async def cancelRecordImport(self, info: Info, projectId: str) -> bool:
        return await _cancel(info, projectId)


def _report_progress(status: str, processed: int, total: int) -> float:
    # as the events count it (two decimals): the job row keeps only a whole percentage
    if status == "COMPLETED":
        return 100.0
    return round(min(100.0, processed * 100.0 / max(total, 1)), 2)


@strawberry.type
class BlueQuery:
    @strawberry.field(
        description="The latest import of a workspace: its state and every row that was not imported, with why."
    )
    async def todoImportReport(self, info: Info, projectId: str) -> TodoImportReport | None:
        board = await visible_project(info, projectId)
        services = info.context.services
        row = await services.pool.fetchrow(Q["latest_blue_import"], board.id)
        if row is None:
            return None
        job_id = row["id"]
        counts = await services.jobs.outcome_counts(services.pool, job_id, 0)
        failed = await services.jobs.unclean_row_results(job_id, MAX_REPORTED_ERRORS)
        total = int(row["options"].get("total", row["total_rows"] or 0))
        not_imported = sum(
            n for status, n in counts.items() if status not in ("created", "updated", "submitted")
        )
        return TodoImportReport(
            status=BLUE_STATUS.get(row["status"], row["status"]),
            progress=_report_progress(row["status"], counts["created"] + not_imported, total),
            total=total,
            imported=counts["created"],
            failed=not_imported,
            error=row["failure_message"],
            unknownHeaders=list(row["options"].get("unknown_headers", [])),
            errors=[
                TodoImportError(
                    line=r.line, column=e.get("column_id", ""), code=e["code"], message=e["message"]
                )
                for r in failed
                for e in r.errors
                or [{"column_id": "", "code": "FAILED", "message": "The row was not imported"}]
            ],
        )


@strawberry.type
class BlueSubscription:
    @strawberry.subscription
    async def subscribeToImportExportProgress(
        self, info: Info, projectId: str, userId: str
    ) -> AsyncGenerator[JSON, None]:
        user = info.context.user
        # the workspace first, as every Blue operation checks it before its other arguments
        board = await visible_project(info, projectId)
        if str(userId) != str(user.id):
            raise Forbidden("You can only subscribe to your own progress.")
        async for event in info.context.services.events.subscribe(board.id, user.id):
            yield cast(JSON, event)
