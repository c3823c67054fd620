"""monday bulk item import: ingest_items, backfill_items and fetch_job_status (API 2026-07)."""

from __future__ import annotations

import codecs
import collections
from collections.abc import AsyncGenerator
from datetime import timedelta
from enum import Enum
from typing import Annotated

import httpx
import strawberry
from strawberry import ID

from server import limits, numeric_ids
from server.api.context import Info
from server.errors import AppError, BadUserInput, NotFound, Unauthorized, clip, shown
from server.imports import status as job_status
from server.imports import subitems
from server.imports.csvfile import ITEM_ID_KEY
from server.store.jobs import Job
from server.store.records import EDIT_ROLES, Board, User

UPLOAD_URL_TTL = timedelta(minutes=10)
# Zoho's HEADER_LIMIT_EXCEEDED: "The number of fields mapped has exceeded the maximum limit of 200"
MAX_FIELD_MAPPINGS = 200
INGEST_ROLES = EDIT_ROLES | {"CLIENT"}
ADMIN_ONLY = "Only admin users can perform this operation."


@strawberry.enum
class BulkImportState(Enum):
    UPLOAD_PENDING = "UPLOAD_PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"


@strawberry.enum
class BulkImportFailureReason(Enum):
    ACCOUNT_CAPACITY_EXCEEDED = "ACCOUNT_CAPACITY_EXCEEDED"
    AUTHORIZATION_FAILED = "AUTHORIZATION_FAILED"
    BOARD_CAPACITY_EXCEEDED = "BOARD_CAPACITY_EXCEEDED"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    INVALID_UPLOAD = "INVALID_UPLOAD"
    PERMISSION_DENIED = "PERMISSION_DENIED"


@strawberry.enum
class ItemsJobMatchBehaviour(Enum):
    UPSERT = "UPSERT"
    SKIP = "SKIP"
    UPDATE = "UPDATE"  # Zoho's update mode: matched rows are updated, the rest skipped


@strawberry.enum
class ItemsJobReportMode(Enum):
    FAILED_ROWS = "FAILED_ROWS"  # monday's report: rows not created or updated cleanly
    ALL_ROWS = "ALL_ROWS"  # every row with its outcome and item id


@strawberry.input(description="Zoho-style mapping of a CSV column, by index, to a board column.")
class ItemsJobFieldMapping:
    column_id: ID
    # None: no column of the file; the column takes default_value in every row (Zoho's
    # mapping of a field to a constant)
    index: int | None = None
    default_value: str | None = None


@strawberry.input(
    description="Parent-child files: a second CSV whose rows become subitems of the items this "
    "job's file creates or matches. parent_key_column_id is the key column of the main file "
    "(a column id or `name`), or `id`: the child rows name their parent by the id of an active "
    "item of the board (Zoho's Parent_Id found by id); parent_key_header the child file's "
    "header that holds that key."
)
class ItemsJobSubitemsInput:
    parent_key_column_id: ID
    parent_key_header: str


@strawberry.input(description="Called once when the job reaches a terminal state.")
class ItemsJobCallbackInput:
    url: str
    method: str = "POST"


@strawberry.input
class ItemsJobOnMatchInput:
    behaviour: ItemsJobMatchBehaviour
    match_column_id: ID


@strawberry.type
class ItemsJobResponse:
    job_id: ID
    upload_url: str
    subitems_upload_url: str | None = strawberry.field(
        default=None, description="Where to PUT the subitems file, when the job has `subitems`."
    )


@strawberry.type
class ItemsJobCounts:
    submitted: int
    invalid: int
    skipped: int
    created: int
    updated: int
    failed: int


@strawberry.type
class ItemsJobStatus:
    job: strawberry.Private[Job]
    report_url: str | None

    @strawberry.field
    def status(self) -> BulkImportState:
        return BulkImportState(self.job.status)

    @strawberry.field
    def counts(self) -> ItemsJobCounts:
        return ItemsJobCounts(
            **{k: int(self.job.counts.get(k, 0)) for k in ItemsJobCounts.__annotations__}
        )

    @strawberry.field
    def progress_percentage(self) -> int:
        return self.job.progress

    @strawberry.field
    def failure_reason(self) -> BulkImportFailureReason | None:
        reason = self.job.failure_reason
        return BulkImportFailureReason(reason) if reason else None

    @strawberry.field
    def failure_message(self) -> str | None:
        return self.job.failure_message

    @strawberry.field
    def fully_imported(self) -> bool:
        return job_status.fully_imported(self.job)

    @strawberry.field
    def report_created(self) -> bool:
        return job_status.report_created(self.job)

    @strawberry.field(description="The subitems file's report, when the job has `subitems`.")
    async def subitems_report_url(self, info: Info) -> str | None:
        return await job_status.subitems_report_url(info.context.services, self.job)


JobStatus = Annotated[ItemsJobStatus, strawberry.union("JobStatus")]


async def _editable_board(info: Info, user: User, board_id: str, group_id: str) -> Board:
    # a monday board id is its number, as `boards(ids:)` and the v2 mutations read it; a
    # Blue uid or slug names a project only in the Blue operations
    number = numeric_ids.parse_id(str(board_id))
    board = None
    if number is not None:
        board = await info.context.services.boards.board_for_user(user, str(number))
    if board is None or board.id != number or board.state == "deleted":
        raise NotFound(f"Board {clip(board_id)} not found", error_data={"board_id": board_id})
    if board.role not in INGEST_ROLES:
        raise Unauthorized(
            "User unauthorized to perform action: edit access to the board is required",
            status_code=403,
            error_data={"board_id": board_id},
        )
    groups = {g.id: g for g in (await info.context.services.boards.groups([board.id]))[board.id]}
    if group_id not in groups:
        raise NotFound(
            f"Group {shown(group_id)} not found on board {clip(board_id)}",
            error_data={"group_id": group_id},
        )
    if groups[group_id].archived:
        # as create_item: new items would be hidden with the group
        raise BadUserInput(
            f"Group {shown(group_id)} is archived and takes no items",
            error_data={"group_id": group_id},
        )
    return board


async def _start_job(
    info: Info, kind: str, board: Board, group_id: str, options: dict[str, object]
) -> ItemsJobResponse:
    services = info.context.services
    user = info.context.user
    found = _unstorable_in(options)
    if found is not None:
        # the options are stored as JSON in PostgreSQL, which refuses a NUL in any text, and
        # JSON text is UTF-8, which has no lone surrogate
        where, what = found
        raise BadUserInput(f"{where} may not contain {what}", error_data={"argument": where})
    await _check_mapped_fields(info, board, options)
    now = services.clock.now()
    async with services.pool.acquire() as conn, conn.transaction():
        try:
            await limits.take_job_start(conn, user.account_id, now)
        except AppError:
            info.context.set_status(429)
            raise
        job = await services.jobs.create(
            conn, kind=kind, account_id=user.account_id, board_id=board.id, group_id=group_id,
            user_id=user.id, options=options, upload_expires_at=now + UPLOAD_URL_TTL, now=now,
        )  # fmt: skip
    expires = int(UPLOAD_URL_TTL.total_seconds())
    url = await services.storage.presign_put(job.object_key, expires_in=expires)
    children_url = None
    if options.get("subitems"):
        children_url = await services.storage.presign_put(
            subitems.children_key(job), expires_in=expires
        )
    return ItemsJobResponse(
        job_id=ID(str(job.id)), upload_url=url, subitems_upload_url=children_url
    )


def _unstorable_in(value: object, path: str = "") -> tuple[str, str] | None:
    """The path of the first text in `value` (options as stored) that JSON in PostgreSQL
    cannot hold, with what it holds, if any."""
    if isinstance(value, str):
        if "\x00" in value:
            return path, "the NUL character (U+0000)"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "a lone surrogate (U+D800 to U+DFFF)"
        return None
    parts: list[tuple[str, object]] = []
    if isinstance(value, dict):
        parts = [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        parts = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    return next((found for p, item in parts if (found := _unstorable_in(item, p))), None)


async def _subitems_option(
    info: Info, board: Board, subitems_input: ItemsJobSubitemsInput | None
) -> dict[str, object]:
    if subitems_input is None:
        return {}
    key_column = str(subitems_input.parent_key_column_id)
    columns = (await info.context.services.boards.columns([board.id]))[board.id]
    # `id`: the parent's item id (Zoho's Parent_Id found by id), unless a column has that id
    known = {"name", ITEM_ID_KEY, *(c.id for c in columns)}
    if key_column not in known:
        raise BadUserInput(
            f"subitems.parent_key_column_id {shown(key_column)} is not a column of board {board.id}"
        )
    if not subitems_input.parent_key_header.strip():
        raise BadUserInput("subitems.parent_key_header must name a header of the subitems file")
    return {
        "subitems": {
            "parent_key_column_id": key_column,
            "parent_key_header": subitems_input.parent_key_header.strip(),
        }
    }


async def _check_mapped_fields(info: Info, board: Board, options: dict[str, object]) -> None:
    """Each field mapping names a field of the board, as the file's processing will read it:
    Zoho's INVALID_FIELD ("An invalid field API name throws an error") answers the request
    that creates the job. Only indexes wait for the file. Processing checks again, for a
    column archived or deleted in between."""
    mappings = options.get("field_mappings")
    if not isinstance(mappings, list):
        return
    columns = (await info.context.services.boards.columns([board.id]))[board.id]
    known = {"name", *(c.id for c in columns if not c.archived)}
    if board.hierarchy_levels > 1:
        known |= {f"name.l{level}" for level in range(1, board.hierarchy_levels + 1)}
    on_match = options.get("on_match")
    if isinstance(on_match, dict) and on_match.get("match_column_id") == ITEM_ID_KEY:
        known.add(ITEM_ID_KEY)  # the match key of find_by the record id
    unknown = [str(m["column_id"]) for m in mappings if str(m["column_id"]) not in known]
    if unknown:
        raise BadUserInput(
            f"field_mappings: {', '.join(map(shown, unknown))} is not a column id of board "
            f"{board.id}",
            error_data={"column_ids": unknown},
        )
    if not {"name", "name.l1"} & {str(m["column_id"]) for m in mappings}:
        # Zoho's MANDATORY_FIELDS_NOT_MAPPED, also from the create-job request: every row
        # needs the item name (a matched row may leave it empty, but the column is the file's)
        raise BadUserInput(
            "field_mappings must map 'name' (the item name) to a column index or a default_value",
            error_data={"column_ids": ["name"]},
        )


def _common_options(
    field_mappings: list[ItemsJobFieldMapping] | None,
    character_encoding: str | None,
    callback: ItemsJobCallbackInput | None,
    dry_run: bool | None,
    report: ItemsJobReportMode | None,
) -> dict[str, object]:
    """The optional Zoho-style and beyond-the-anchors options; absent ones change nothing."""
    options: dict[str, object] = {}
    if field_mappings:
        if len(field_mappings) > MAX_FIELD_MAPPINGS:
            raise BadUserInput(
                f"field_mappings: {len(field_mappings)} fields are mapped; the number of fields "
                f"mapped has exceeded the maximum limit of {MAX_FIELD_MAPPINGS}",
                error_data={"limit": MAX_FIELD_MAPPINGS},
            )
        if any(m.index is not None and m.index < 0 for m in field_mappings):
            raise BadUserInput("field_mappings: index must be 0 or more")
        lacking = [
            str(m.column_id) for m in field_mappings if m.index is None and m.default_value is None
        ]
        if lacking:
            raise BadUserInput(
                "field_mappings: a mapping without an index needs a default_value",
                error_data={"column_ids": lacking},
            )
        # counted once: list.count per mapping took seconds of the event loop for a list of
        # tens of thousands of mappings
        uses = collections.Counter(str(m.column_id) for m in field_mappings)
        twice = sorted(c for c, n in uses.items() if n > 1)
        if twice:
            # one of the two cells would silently win; the client must say which it means
            raise BadUserInput(
                f"field_mappings: {', '.join(map(shown, twice))} is mapped more than once",
                error_data={"column_ids": twice},
            )
        options["field_mappings"] = [
            {"column_id": str(m.column_id), "index": m.index, "default_value": m.default_value}
            for m in field_mappings
        ]
    if character_encoding:
        _check_encoding(character_encoding)
        options["character_encoding"] = character_encoding
    if callback is not None:
        _check_callback_url(callback.url)
        if callback.method.upper() != "POST":
            raise BadUserInput("callback.method must be POST")
        options["callback"] = {"url": callback.url, "method": "POST"}
    if dry_run:
        options["dry_run"] = True
    if report is not None:
        options["report"] = report.value
    return options


def _check_callback_url(url: str) -> None:
    """A URL the callback sender can call: read as httpx will read it when the job ends (one
    it cannot read was accepted, then every delivery failed before it was sent)."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoded from punycode: IDNA may refuse it
    except (httpx.InvalidURL, UnicodeError) as exc:  # UnicodeError: a host IDNA refuses
        raise BadUserInput(
            f"callback.url is not a valid URL: {exc}", error_data={"argument": "callback.url"}
        ) from exc
    if parsed.scheme not in ("http", "https") or not host:
        raise BadUserInput(
            "callback.url must be an http(s) URL with a host",
            error_data={"argument": "callback.url"},
        )


def _check_encoding(name: str) -> None:
    """A charset that decodes bytes to text: Python also knows bytes-to-bytes codecs (base64,
    zlib) and `rot13` (text-to-text), which cannot read a file, and `undefined`, which
    refuses everything."""
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError) as exc:  # ValueError: a NUL in the name
        raise BadUserInput(f"Unknown character_encoding {shown(name)}") from exc
    if not info._is_text_encoding or info.name == "undefined":
        raise BadUserInput(
            f"character_encoding {shown(name)} is not a character set (a codec of bytes to text)"
        )


@strawberry.type
class MondayImportMutation:
    @strawberry.mutation(
        description="Start an import job; PUT the CSV to upload_url within 10 minutes."
    )
    async def ingest_items(
        self,
        info: Info,
        board_id: ID,
        group_id: str,
        on_match: ItemsJobOnMatchInput | None = None,
        ignore_empty: bool | None = None,
        field_mappings: list[ItemsJobFieldMapping] | None = None,
        character_encoding: str | None = None,
        callback: ItemsJobCallbackInput | None = None,
        dry_run: bool | None = None,
        report: ItemsJobReportMode | None = None,
        subitems: ItemsJobSubitemsInput | None = None,
    ) -> ItemsJobResponse:
        user = info.context.user
        board = await _editable_board(info, user, board_id, group_id)
        options = _common_options(field_mappings, character_encoding, callback, dry_run, report)
        options.update(await _subitems_option(info, board, subitems))
        if ignore_empty is not None:
            options["ignore_empty"] = ignore_empty
        if on_match is not None:
            if board.hierarchy_levels > 1:
                raise BadUserInput(
                    "on_match is not supported on multi-level boards: MLS hierarchy imports are create-only"
                )
            columns = (await info.context.services.boards.columns([board.id]))[board.id]
            column_id = str(on_match.match_column_id)
            # `name`, a column id, or `id` (Zoho's find_by the record id: the item id)
            if column_id not in ("name", ITEM_ID_KEY) and column_id not in {c.id for c in columns}:
                raise BadUserInput(
                    f"match_column_id {shown(column_id)} is not a column of board {board.id}",
                    error_data={"match_column_id": column_id},
                )
            options["on_match"] = {
                "behaviour": on_match.behaviour.value,
                "match_column_id": column_id,
            }
        return await _start_job(info, "ingest", board, group_id, options)

    @strawberry.mutation(
        description="Admin-only one-time initial load: create-only, no activity log, no budget."
    )
    async def backfill_items(
        self,
        info: Info,
        board_id: ID,
        group_id: str,
        field_mappings: list[ItemsJobFieldMapping] | None = None,
        character_encoding: str | None = None,
        callback: ItemsJobCallbackInput | None = None,
        dry_run: bool | None = None,
        report: ItemsJobReportMode | None = None,
        subitems: ItemsJobSubitemsInput | None = None,
    ) -> ItemsJobResponse:
        user = info.context.user
        if not user.is_admin:
            raise Unauthorized(ADMIN_ONLY, status_code=403)
        board = await _editable_board(info, user, board_id, group_id)
        options = _common_options(field_mappings, character_encoding, callback, dry_run, report)
        options.update(await _subitems_option(info, board, subitems))
        return await _start_job(info, "backfill", board, group_id, options)


@strawberry.type
class MondayImportQuery:
    @strawberry.field
    async def fetch_job_status(self, info: Info, job_id: ID) -> JobStatus:
        services = info.context.services
        job = await services.jobs.job_of_account(str(job_id), info.context.user.account_id)
        if job is None:
            raise NotFound(f"Job {clip(job_id)} not found", error_data={"job_id": str(job_id)})
        return ItemsJobStatus(job=job, report_url=await job_status.report_url(services, job))


@strawberry.type
class MondayImportSubscription:
    @strawberry.subscription(
        description="Pushes the job's ItemsJobStatus at once and on every change, until it ends."
    )
    async def job_status(self, info: Info, job_id: ID) -> AsyncGenerator[JobStatus, None]:
        services = info.context.services
        account_id = info.context.user.account_id
        if await services.jobs.job_of_account(str(job_id), account_id) is None:
            raise NotFound(f"Job {clip(job_id)} not found", error_data={"job_id": str(job_id)})
        last: tuple[object, ...] | None = None
        async for _ in services.events.job_changes(str(job_id)):
            job = await services.jobs.job_of_account(str(job_id), account_id)
            if job is None:
                return
            snapshot = (job.status, tuple(sorted(job.counts.items())), job.progress, job.report_key)
            if snapshot != last:
                last = snapshot
                yield ItemsJobStatus(job=job, report_url=await job_status.report_url(services, job))
            if job.status in job_status.TERMINAL:
                return
