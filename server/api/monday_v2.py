"""monday API v2 read side: boards, columns, groups, items, column values, users, teams, me."""

from __future__ import annotations

from typing import cast

import orjson
import strawberry
from strawberry import ID
from strawberry.scalars import JSON

from server.api.context import Info
from server.store.records import (
    ActivityRecord,
    ColumnRecord,
    ColumnValueRecord,
    GroupRecord,
    ItemRecord,
    TeamRecord,
    User,
)
from server.store.records import (
    Board as BoardRecord,
)

DEFAULT_LIMIT = 25  # objects per page, as monday documents
MAX_LIMIT = 500  # objects per page


def page_window(limit: int | None, page: int | None) -> tuple[int, int]:
    """(limit, offset) for monday's 1-based `page` argument."""
    size = max(1, min(limit or DEFAULT_LIMIT, MAX_LIMIT))
    return size, (max(page or 1, 1) - 1) * size


def int_ids(ids: list[ID] | None) -> list[int] | None:
    """Numeric ids from GraphQL ID strings; ones that are not numbers match nothing."""
    if ids is None:
        return None
    return [int(i) for i in ids if str(i).strip().lstrip("-").isdigit()]


@strawberry.type(name="User")
class UserType:
    record: strawberry.Private[User]

    @strawberry.field
    def id(self) -> ID:
        return ID(str(self.record.id))

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def email(self) -> str:
        return self.record.email

    @strawberry.field
    def is_admin(self) -> bool:
        return self.record.is_admin

    @strawberry.field
    def enabled(self) -> bool:
        return self.record.enabled

    @strawberry.field
    def created_at(self) -> str:
        return self.record.created_at.isoformat()

    @strawberry.field
    async def teams(self, info: Info) -> list[TeamType]:
        teams = await info.context.services.accounts.teams(self.record.account_id)
        return [TeamType(record=t) for t in teams if self.record.id in t.user_ids]


@strawberry.type(name="Team")
class TeamType:
    record: strawberry.Private[TeamRecord]

    @strawberry.field
    def id(self) -> ID:
        return ID(str(self.record.id))

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    async def users(self, info: Info) -> list[UserType]:
        users = await info.context.services.accounts.users(
            self.record.account_id, list(self.record.user_ids)
        )
        return [UserType(record=u) for u in users]


@strawberry.type(name="Column")
class ColumnType:
    record: strawberry.Private[ColumnRecord]

    @strawberry.field
    def id(self) -> ID:
        return ID(self.record.id)

    @strawberry.field
    def title(self) -> str:
        return self.record.title

    @strawberry.field
    def type(self) -> str:
        return self.record.type

    @strawberry.field
    def settings_str(self) -> str:
        return orjson.dumps(self.record.settings).decode()

    @strawberry.field
    def archived(self) -> bool:
        return self.record.archived


@strawberry.type(name="Group")
class GroupType:
    record: strawberry.Private[GroupRecord]

    @strawberry.field
    def id(self) -> ID:
        return ID(self.record.id)

    @strawberry.field
    def title(self) -> str:
        return self.record.title

    @strawberry.field
    def color(self) -> str:
        return self.record.color

    @strawberry.field
    def position(self) -> str:
        # monday returns group positions as strings
        return str(self.record.position)

    @strawberry.field
    def archived(self) -> bool:
        return self.record.archived


@strawberry.type(name="ColumnValue")
class ColumnValueType:
    column: strawberry.Private[ColumnRecord]
    stored: strawberry.Private[ColumnValueRecord | None]

    @strawberry.field
    def id(self) -> ID:
        return ID(self.column.id)

    @strawberry.field
    def type(self) -> str:
        return self.column.type

    @strawberry.field
    def text(self) -> str | None:
        return self.stored.text if self.stored else None

    @strawberry.field
    def value(self) -> JSON | None:
        # monday's `value` is the JSON text of the column type's format
        if self.stored is None:
            return None
        return cast(JSON, orjson.dumps(self.stored.value).decode())

    @strawberry.field(name="column")
    def column_info(self) -> ColumnType:
        return ColumnType(record=self.column)


@strawberry.type(name="Tag")
class TagType:
    id: ID
    name: str
    color: str


@strawberry.type(name="Item")
class ItemType:
    record: strawberry.Private[ItemRecord]

    @strawberry.field
    def id(self) -> ID:
        return ID(str(self.record.id))

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def state(self) -> str:
        return self.record.state

    @strawberry.field
    def created_at(self) -> str:
        return self.record.created_at.isoformat()

    @strawberry.field
    def updated_at(self) -> str:
        return self.record.updated_at.isoformat()

    @strawberry.field
    def creator_id(self) -> ID | None:
        return ID(str(self.record.creator_id)) if self.record.creator_id is not None else None

    @strawberry.field(description="Blue record field: completion status")
    def done(self) -> bool:
        return self.record.done

    @strawberry.field(description="Blue record field")
    def start_date(self) -> str | None:
        return self.record.start_date.isoformat() if self.record.start_date else None

    @strawberry.field(description="Blue record field")
    def due_date(self) -> str | None:
        return self.record.due_date.isoformat() if self.record.due_date else None

    @strawberry.field(description="Blue record field")
    def description(self) -> str | None:
        return self.record.description

    @strawberry.field(description="Blue record field")
    def color(self) -> str | None:
        return self.record.color

    @strawberry.field(description="Blue record field: the record's assignees")
    async def assignees(self, info: Info) -> list[UserType]:
        ids = await info.context.services.boards.assignee_ids(self.record.id)
        if not ids:
            return []
        users = await info.context.services.accounts.users(info.context.user.account_id, ids)
        return [UserType(record=u) for u in users]

    @strawberry.field
    async def tags(self, info: Info) -> list[TagType]:
        tags = await info.context.services.boards.item_tags(self.record.id)
        return [TagType(id=ID(str(i)), name=n, color=c) for i, n, c in tags]

    @strawberry.field
    async def group(self, info: Info) -> GroupType | None:
        groups = await info.context.services.boards.groups([self.record.board_id])
        found = [g for g in groups[self.record.board_id] if g.id == self.record.group_id]
        return GroupType(record=found[0]) if found else None

    @strawberry.field
    async def board(self, info: Info) -> BoardType | None:
        boards = await info.context.services.boards.visible_boards(
            info.context.user, ids=[self.record.board_id]
        )
        return BoardType(record=boards[0]) if boards else None

    @strawberry.field
    async def parent_item(self, info: Info) -> ItemType | None:
        if self.record.parent_id is None:
            return None
        found = await info.context.services.boards.items_by_ids(
            info.context.user, [self.record.parent_id], 1
        )
        return ItemType(record=found[0]) if found else None

    @strawberry.field
    async def column_values(
        self, info: Info, ids: list[str] | None = None
    ) -> list[ColumnValueType]:
        services = info.context.services
        columns = (await services.boards.columns([self.record.board_id]))[self.record.board_id]
        values = (await services.boards.column_values([self.record.id]))[self.record.id]
        by_column = {v.column_id: v for v in values}
        wanted = set(ids) if ids is not None else None
        return [
            ColumnValueType(column=c, stored=by_column.get(c.id))
            for c in columns
            if not c.archived and (wanted is None or c.id in wanted)
        ]


@strawberry.type(name="ActivityLogType")
class ActivityLogType:
    record: strawberry.Private[ActivityRecord]

    @strawberry.field
    def id(self) -> ID:
        return ID(str(self.record.id))

    @strawberry.field
    def event(self) -> str:
        return self.record.event

    @strawberry.field
    def user_id(self) -> str:
        return str(self.record.user_id or "")

    @strawberry.field
    def entity(self) -> str:
        return "pulse"

    @strawberry.field
    def data(self) -> str:
        return orjson.dumps({**self.record.data, "pulse_id": self.record.item_id}).decode()

    @strawberry.field
    def created_at(self) -> str:
        return self.record.created_at.isoformat()


@strawberry.type(name="Board")
class BoardType:
    record: strawberry.Private[BoardRecord]

    @strawberry.field
    def id(self) -> ID:
        return ID(str(self.record.id))

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def description(self) -> str | None:
        return self.record.description

    @strawberry.field
    def state(self) -> str:
        return self.record.state

    @strawberry.field
    def board_kind(self) -> str:
        return self.record.board_kind

    @strawberry.field
    def hierarchy_levels(self) -> int:
        return self.record.hierarchy_levels

    @strawberry.field
    def updated_at(self) -> str:
        return self.record.updated_at.isoformat()

    @strawberry.field
    async def columns(self, info: Info, ids: list[str] | None = None) -> list[ColumnType]:
        columns = (await info.context.services.boards.columns([self.record.id]))[self.record.id]
        wanted = set(ids) if ids is not None else None
        return [ColumnType(record=c) for c in columns if wanted is None or c.id in wanted]

    @strawberry.field
    async def groups(self, info: Info, ids: list[str] | None = None) -> list[GroupType]:
        groups = (await info.context.services.boards.groups([self.record.id]))[self.record.id]
        wanted = set(ids) if ids is not None else None
        return [GroupType(record=g) for g in groups if wanted is None or g.id in wanted]

    @strawberry.field
    async def items(
        self, info: Info, limit: int | None = None, page: int | None = None
    ) -> list[ItemType]:
        size, offset = page_window(limit, page)
        items = await info.context.services.boards.items_of_board(self.record.id, size, offset)
        return [ItemType(record=i) for i in items]

    @strawberry.field
    async def activity_logs(
        self, info: Info, limit: int | None = None, page: int | None = None
    ) -> list[ActivityLogType]:
        size, offset = page_window(limit, page)
        logs = await info.context.services.boards.activity(self.record.id, size, offset)
        return [ActivityLogType(record=log) for log in logs]


@strawberry.type
class MondayQuery:
    @strawberry.field
    async def boards(
        self,
        info: Info,
        ids: list[ID] | None = None,
        limit: int | None = None,
        page: int | None = None,
        state: str | None = "active",
    ) -> list[BoardType]:
        size, offset = page_window(limit, page)
        boards = await info.context.services.boards.visible_boards(
            info.context.user,
            ids=int_ids(ids),
            state=None if state == "all" else state,
            limit=size,
            offset=offset,
        )
        return [BoardType(record=b) for b in boards]

    @strawberry.field
    async def items(
        self, info: Info, ids: list[ID] | None = None, limit: int | None = None
    ) -> list[ItemType]:
        size, _ = page_window(limit, 1)
        wanted = int_ids(ids) or []
        items = await info.context.services.boards.items_by_ids(info.context.user, wanted, size)
        return [ItemType(record=i) for i in items]

    @strawberry.field
    async def users(
        self, info: Info, ids: list[ID] | None = None, limit: int | None = None
    ) -> list[UserType]:
        user = info.context.user
        users = await info.context.services.accounts.users(
            user.account_id, int_ids(ids), limit if limit and limit > 0 else None
        )
        return [UserType(record=u) for u in users]

    @strawberry.field
    async def teams(self, info: Info, ids: list[ID] | None = None) -> list[TeamType]:
        user = info.context.user
        teams = await info.context.services.accounts.teams(user.account_id, int_ids(ids))
        return [TeamType(record=t) for t in teams]

    @strawberry.field
    def me(self, info: Info) -> UserType:
        return UserType(record=info.context.user)
