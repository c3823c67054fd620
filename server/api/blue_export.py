"""Blue exports: exportCSVTemplate, and exportTodos with its newer name exportRecords."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry import ID

from server import numeric_ids, sql
from server.api.blue import visible_project
from server.api.context import Info
from server.errors import BadUserInput, shown
from server.exports import records, template
from server.imports import blue_fields, cells
from server.store.exports import RecordFilter


@strawberry.input(description="The workspace whose CSV import template to generate.")
class ExportCSVTemplateInput:
    project_id: str = strawberry.field(
        name="projectId", description="ID of the workspace: its id, numeric id or slug."
    )


@strawberry.input(
    description=(
        "Which records exportTodos writes. Every field is optional: a null or omitted field "
        "(and an empty list) does not filter; the fields given must all match. Within one "
        "list field a record matches when it matches any of the values."
    )
)
class TodosFilter:
    list_ids: list[str] | None = strawberry.field(
        default=None, name="listIds", description="Records in any of these lists, by list id."
    )
    list_titles: list[str] | None = strawberry.field(
        default=None,
        name="listTitles",
        description="Records in any of these lists, by title (ignoring case).",
    )
    tag_names: list[str] | None = strawberry.field(
        default=None,
        name="tagNames",
        description="Records with at least one of these tags, by name (ignoring case).",
    )
    assignee_ids: list[ID] | None = strawberry.field(
        default=None,
        name="assigneeIds",
        description="Records assigned to at least one of these users, by user id.",
    )
    done: bool | None = strawberry.field(
        default=None, description="true: completed records only; false: open records only."
    )
    due_date_from: str | None = strawberry.field(
        default=None,
        name="dueDateFrom",
        description=(
            "Records due on or after this ISO 8601 date or date-time (UTC unless it has an "
            "offset). Records without a due date do not match a due date range."
        ),
    )
    due_date_to: str | None = strawberry.field(
        default=None,
        name="dueDateTo",
        description=(
            "Records due on or before this ISO 8601 date (the whole day counts) or date-time."
        ),
    )


@strawberry.input(description="The workspace to export and which of its records.")
class ExportTodosInput:
    project_id: str = strawberry.field(
        name="projectId", description="ID of the workspace: its id, numeric id or slug."
    )
    filter: TodosFilter | None = strawberry.field(
        default=None, description="Which records to export; all active records when omitted."
    )


def _due_bound(field: str, text: str | None, *, end_of_day: bool) -> dt.datetime | None:
    if text is None or not text.strip():
        return None
    try:
        moment = blue_fields.parse_timestamp(text)
    except cells.CellError as exc:
        raise BadUserInput(
            f"filter.{field} must be an ISO 8601 date or date-time: {exc.message}",
            error_data={"field": field},
        ) from exc
    if moment is not None and end_of_day and _is_date_only(text):
        moment = dt.datetime.combine(moment.date(), dt.time.max, tzinfo=dt.UTC)
    return moment


def _is_date_only(text: str) -> bool:
    try:
        dt.date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _record_filter(given: TodosFilter | None) -> RecordFilter:
    if given is None:
        return RecordFilter()
    assignee_ids: list[int] = []
    for user_id in given.assignee_ids or []:
        if numeric_ids.parse_number(str(user_id)) is None:
            raise BadUserInput(
                f"filter.assigneeIds: {shown(str(user_id))} is not a user id",
                error_data={"field": "assigneeIds"},
            )
        # a number too large for an id is a user that does not exist: it matches no record
        number = numeric_ids.parse_id(str(user_id))
        if number is not None:
            assignee_ids.append(number)
    for field, texts in (("listIds", given.list_ids), ("listTitles", given.list_titles),
                         ("tagNames", given.tag_names)):  # fmt: skip
        for index, text in enumerate(texts or []):
            # checked here: the export runs later, and PostgreSQL would refuse the value there
            if not sql.storable(text):
                raise BadUserInput(
                    f"filter.{field}[{index}] holds a NUL character or a lone UTF-16 surrogate",
                    error_data={"field": field},
                )
    due_from = _due_bound("dueDateFrom", given.due_date_from, end_of_day=False)
    due_to = _due_bound("dueDateTo", given.due_date_to, end_of_day=True)
    if due_from is not None and due_to is not None and due_from > due_to:
        raise BadUserInput(
            "filter.dueDateFrom is after filter.dueDateTo", error_data={"field": "dueDateFrom"}
        )
    return RecordFilter(
        list_ids=tuple(given.list_ids or ()),
        list_titles=tuple(given.list_titles or ()),
        tag_names=tuple(given.tag_names or ()),
        assignee_ids=tuple(assignee_ids) if given.assignee_ids else None,
        done=given.done,
        due_from=due_from,
        due_to=due_to,
    )


async def _export_todos(info: Info, given: ExportTodosInput) -> bool:
    board = await visible_project(info, given.project_id)
    record_filter = _record_filter(given.filter)
    await records.request_export(info.context.services, info.context.user, board, record_filter)
    return True


EXPORT_TODOS_DESCRIPTION = (
    "Export the workspace's records as CSV in the template's columns. Returns true at once; "
    "the download link (valid 24 hours) arrives by e-mail and in the final EXPORT event of "
    "subscribeToImportExportProgress, with totalCount. One export per user every 50 seconds, "
    "else RATE_LIMITED. Any access level may export."
)


@strawberry.type
class BlueExportMutation:
    @strawberry.mutation(
        name="exportCSVTemplate",
        description=(
            "A pre-signed URL, valid 24 hours, to a blank CSV import template of the workspace: "
            "a header row and one empty row. Any access level may call it."
        ),
    )
    async def export_csv_template(
        self,
        info: Info,
        input_: Annotated[ExportCSVTemplateInput, strawberry.argument(name="input")],
    ) -> str:
        user = info.context.user
        board = await visible_project(info, input_.project_id)
        return await template.export_template(info.context.services, user.account_slug, board)

    @strawberry.mutation(name="exportTodos", description=EXPORT_TODOS_DESCRIPTION)
    async def export_todos(
        self, info: Info, input_: Annotated[ExportTodosInput, strawberry.argument(name="input")]
    ) -> bool:
        return await _export_todos(info, input_)

    @strawberry.mutation(
        name="exportRecords",
        description="Blue's newer name for exportTodos. " + EXPORT_TODOS_DESCRIPTION,
    )
    async def export_records(
        self, info: Info, input_: Annotated[ExportTodosInput, strawberry.argument(name="input")]
    ) -> bool:
        return await _export_todos(info, input_)
