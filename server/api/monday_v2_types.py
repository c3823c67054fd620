"""monday API v2 object types: boards, columns, groups, items, column values, updates, tags
and notifications, with the enums their arguments use (people live in monday_v2_people)."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TypeVar, cast

import orjson
import strawberry
from strawberry import ID
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from server import columnvalues, numeric_ids
from server.api.context import Info
from server.api.monday_v2_people import UserType, user_by_id, users_by_id
from server.errors import BadUserInput
from server.store.items import ItemStore, TagRecord, UpdateRecord
from server.store.records import (
    ActivityRecord,
    ColumnRecord,
    ColumnValueRecord,
    GroupRecord,
    ItemRecord,
)
from server.store.records import (
    Board as BoardRecord,
)

DEFAULT_LIMIT = 25  # objects per page, as monday documents
MAX_LIMIT = 500  # objects per page
BOARD_PERMISSIONS = "everyone"  # every board member may edit content: the only model we keep


def checked_limit(limit: int | None) -> int | None:
    """A `limit` argument as given, None when left out; below 1 is BAD_USER_INPUT."""
    # not read as "no limit" nor as 1: the complexity charge counts a list by its limit, so
    # limit: 0 would buy a default page (or every user) at the price of one object
    if limit is not None and limit < 1:
        raise BadUserInput("limit must be at least 1", error_data={"limit": limit})
    return limit


def page_window(limit: int | None, page: int | None) -> tuple[int, int]:
    """(limit, offset) for monday's 1-based `page` argument; over MAX_LIMIT is BAD_USER_INPUT."""
    # refused, not capped: a client asking 1,000 a page and given 500 reads the short page
    # as the last one and misses every row after it
    size = checked_limit(limit) or DEFAULT_LIMIT
    if size > MAX_LIMIT:
        raise BadUserInput(f"limit must be at most {MAX_LIMIT}", error_data={"limit": size})
    return size, (max(page or 1, 1) - 1) * size


def rows_window(limit: int | None, page: int | None) -> tuple[int | None, int]:
    """(limit, offset) of a board's or group's rows: all of them (limit None) unless paged."""
    # the document gives Board.items and Group.items only `ids`, unlike the lists it pages
    # (25 by default): a client reading a board's rows expects every one of them
    if limit is None and page is None:
        return None, 0
    return page_window(limit, page)


def wanted_keys(keys: list[str | None] | None) -> set[str] | None:
    """The column or group ids a `[String]` argument names (nulls ignored); None for all."""
    return None if keys is None else {key for key in keys if key is not None}


K = TypeVar("K")
V = TypeVar("V")


def _loader(
    info: Info, name: str, load: Callable[[list[K]], Awaitable[dict[K, V]]]
) -> DataLoader[K, V]:
    """The request's loader `name`: the keys asked for in one tick of the event loop go to
    `load` together, so a page of items reads its values in one query, not one per item."""
    if name not in info.context.loaders:

        async def load_all(keys: list[K]) -> list[V]:
            found = await load(keys)
            return [found[key] for key in keys]

        # no cache: a websocket's context lasts as long as its connection, and a value read
        # once must not hide a later write
        info.context.loaders[name] = DataLoader(load_fn=load_all, cache=False)
    return cast(DataLoader[K, V], info.context.loaders[name])


async def board_columns(info: Info, board_id: int) -> list[ColumnRecord]:
    return await _loader(info, "columns", info.context.services.boards.columns).load(board_id)


async def item_values(info: Info, item_id: int) -> list[ColumnValueRecord]:
    loader = _loader(info, "column_values", info.context.services.boards.column_values)
    return await loader.load(item_id)


def item_store(info: Info) -> ItemStore:
    return ItemStore(info.context.services.pool)


async def rows_page(
    info: Info,
    ids: list[ID | None] | None,
    limit: int | None,
    page: int | None,
    *,
    board_id: int,
    group_id: str | None = None,
    order: str,
) -> list[ItemType]:
    """The active items of a board (or of one of its groups) in `order`; all unless paged."""
    size, offset = rows_window(limit, page)
    items = await info.context.services.boards.items_page(
        info.context.user, ids=numeric_ids.parse_ids(ids), state="active", board_id=board_id,
        group_id=group_id, order=order, limit=size, offset=offset,
    )  # fmt: skip
    return [ItemType(record=i) for i in items]


async def updates_page(
    info: Info,
    limit: int | None,
    page: int | None,
    *,
    ids: list[int] | None = None,
    board_id: int | None = None,
    item_id: int | None = None,
    board_states: list[str] | None = None,
) -> list[UpdateType]:
    """A page of the updates the caller may read, newest first (see BoardStore.updates)."""
    size, offset = page_window(limit, page)
    updates = await info.context.services.boards.updates(
        info.context.user, ids=ids, board_id=board_id, item_id=item_id, limit=size,
        offset=offset, board_states=board_states,
    )  # fmt: skip
    return [UpdateType(record=u) for u in updates]


@strawberry.enum(description="The state of a board, group or item; `all` selects every state.")
class State(Enum):
    all = "all"
    active = "active"
    archived = "archived"
    deleted = "deleted"


def state_filter(state: State | None) -> str | None:
    """The stored state to filter on: None for `all`; null means the default, active."""
    return None if state == State.all else (state or State.active).value


@strawberry.enum(description="public, private or shareable.")
class BoardKind(Enum):
    public = "public"
    private = "private"
    share = "share"


@strawberry.enum(
    description=(
        "What a notification points at: a board or an item (Project) or an update (Post). "
        "The lowercase spellings are the documented example's."
    )
)
class NotificationTargetType(Enum):
    Project = "Project"
    Post = "Post"
    project = "project"
    post = "post"


@strawberry.enum(name="ColumnType", description="The column types this server stores.")
class ColumnKind(Enum):
    text = "text"
    long_text = "long_text"
    numbers = "numbers"
    status = "status"
    dropdown = "dropdown"
    date = "date"
    timeline = "timeline"
    people = "people"
    phone = "phone"
    email = "email"
    link = "link"
    board_relation = "board_relation"
    checkbox = "checkbox"
    currency = "currency"
    tags = "tags"


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

    @strawberry.field(description="The column's settings as monday shows them (JSON text).")
    def settings_str(self) -> str:
        return orjson.dumps(columnvalues.shown_settings(self.record.cell_column())).decode()

    @strawberry.field
    def archived(self) -> bool:
        return self.record.archived

    width: int | None = None  # not kept by this server


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

    # archived, deleted: nullable as monday documents them, so that a client written against
    # this server's schema is ready for the nulls monday may answer (the same on Item, User)
    @strawberry.field
    def archived(self) -> bool | None:
        return self.record.archived

    @strawberry.field
    def deleted(self) -> bool | None:
        return self.record.deleted

    @strawberry.field(
        description="The group's active items in board order; all of them unless paged."
    )
    async def items(
        self,
        info: Info,
        ids: list[ID | None] | None = None,
        limit: int | None = None,
        page: int | None = None,
    ) -> list[ItemType]:
        return await rows_page(
            info, ids, limit, page,
            board_id=self.record.board_id, group_id=self.record.id, order="position",
        )  # fmt: skip


@strawberry.type(name="ColumnValue")
class ColumnValueType:
    column: strawberry.Private[ColumnRecord]
    stored: strawberry.Private[ColumnValueRecord | None]

    @strawberry.field
    def id(self) -> ID:
        return ID(self.column.id)

    @strawberry.field
    def title(self) -> str:
        return self.column.title

    @strawberry.field
    def type(self) -> str:
        return self.column.type

    @strawberry.field
    def text(self) -> str | None:
        # monday reads an empty column as text "" and value null
        return self.stored.text if self.stored else ""

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

    @classmethod
    def of(cls, record: TagRecord) -> TagType:
        return cls(id=ID(str(record.id)), name=record.name, color=record.color)


@strawberry.type(name="Update")
class UpdateType:
    record: strawberry.Private[UpdateRecord]

    @strawberry.field
    def id(self) -> ID:
        return ID(str(self.record.id))

    @strawberry.field
    def body(self) -> str:
        return self.record.body

    @strawberry.field(description="The body as plain text.")
    def text_body(self) -> str:
        return html.unescape(re.sub(r"<[^>]*>", "", self.record.body))

    @strawberry.field
    def item_id(self) -> ID:
        return ID(str(self.record.item_id))

    @strawberry.field
    def creator_id(self) -> ID | None:
        creator = self.record.creator_id
        return ID(str(creator)) if creator is not None else None

    @strawberry.field
    async def creator(self, info: Info) -> UserType | None:
        return await user_by_id(info, self.record.creator_id)

    @strawberry.field
    def created_at(self) -> str:
        return self.record.created_at.isoformat()

    @strawberry.field
    def updated_at(self) -> str:
        return self.record.updated_at.isoformat()


@strawberry.type(name="Notification")
class NotificationType:
    id: ID
    text: str


@strawberry.type(name="Item")
class ItemType:
    record: strawberry.Private[ItemRecord]

    @strawberry.field
    def id(self) -> ID:
        return ID(str(self.record.id))

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    # state, created_at: nullable as monday documents them (see Group.archived)
    @strawberry.field
    def state(self) -> State | None:
        return State(self.record.state)

    @strawberry.field
    def created_at(self) -> str | None:
        return self.record.created_at.isoformat()

    @strawberry.field
    def updated_at(self) -> str:
        return self.record.updated_at.isoformat()

    @strawberry.field
    def creator_id(self) -> ID | None:
        return ID(str(self.record.creator_id)) if self.record.creator_id is not None else None

    @strawberry.field
    async def creator(self, info: Info) -> UserType | None:
        return await user_by_id(info, self.record.creator_id)

    @strawberry.field(description="The item's creator and the authors of its updates.")
    async def subscribers(self, info: Info) -> list[UserType]:
        authors = await info.context.services.boards.update_authors(self.record.id)
        creator = [self.record.creator_id] if self.record.creator_id is not None else []
        return await users_by_id(info, creator + authors)

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
        return await users_by_id(info, ids)

    @strawberry.field(description="The tags in the item's tags columns and its Blue tags.")
    async def tags(self, info: Info) -> list[TagType]:
        tags = await info.context.services.boards.item_tags(self.record.id)
        return [TagType(id=ID(str(i)), name=n, color=c) for i, n, c in tags]

    @strawberry.field
    async def group(self, info: Info) -> GroupType | None:
        # a deleted item's group may be deleted with it: shown so, as monday keeps it
        group = await info.context.services.boards.group_of_item(
            self.record.board_id, self.record.group_id
        )
        return GroupType(record=group) if group else None

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
        self, info: Info, ids: list[str | None] | None = None
    ) -> list[ColumnValueType]:
        columns = await board_columns(info, self.record.board_id)
        by_column = {v.column_id: v for v in await item_values(info, self.record.id)}
        wanted = wanted_keys(ids)
        return [
            ColumnValueType(column=c, stored=by_column.get(c.id))
            for c in columns
            if not c.archived and (wanted is None or c.id in wanted)
        ]

    @strawberry.field(
        description="The stored values as one JSON object text: column id to its `value`."
    )
    async def column_values_str(self, info: Info) -> str:
        values = await item_values(info, self.record.id)
        return orjson.dumps({v.column_id: v.value for v in values}).decode()

    @strawberry.field
    async def updates(
        self, info: Info, limit: int | None = None, page: int | None = None
    ) -> list[UpdateType]:
        return await updates_page(info, limit, page, item_id=self.record.id)


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
        return "pulse" if self.record.item_id is not None else "board"

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
    def state(self) -> State:
        return State(self.record.state)

    @strawberry.field
    def board_kind(self) -> BoardKind:
        kind = self.record.board_kind
        return BoardKind(kind) if kind in BoardKind.__members__ else BoardKind.public

    board_folder_id: ID | None = None  # boards are not kept in folders here
    permissions: str = BOARD_PERMISSIONS
    pos: str | None = None  # not kept by this server

    @strawberry.field
    def hierarchy_levels(self) -> int:
        return self.record.hierarchy_levels

    @strawberry.field
    def updated_at(self) -> str:
        return self.record.updated_at.isoformat()

    @strawberry.field
    async def owner(self, info: Info) -> UserType | None:
        return await user_by_id(info, self.record.owner_id)

    @strawberry.field(description="The members with the OWNER role.")
    async def owners(self, info: Info) -> list[UserType]:
        members = await info.context.services.boards.members(self.record.id)
        return [UserType(record=user) for user, role in members if role == "OWNER"]

    @strawberry.field(description="The board's members.")
    async def subscribers(self, info: Info) -> list[UserType]:
        members = await info.context.services.boards.members(self.record.id)
        return [UserType(record=user) for user, _ in members]

    @strawberry.field(description="The board's own tags and those its items carry.")
    async def tags(self, info: Info) -> list[TagType]:
        return [
            TagType.of(t) for t in await info.context.services.boards.board_tags(self.record.id)
        ]

    @strawberry.field
    async def updates(
        self, info: Info, limit: int | None = None, page: int | None = None
    ) -> list[UpdateType]:
        return await updates_page(info, limit, page, board_id=self.record.id)

    @strawberry.field
    async def columns(self, info: Info, ids: list[str | None] | None = None) -> list[ColumnType]:
        columns = await board_columns(info, self.record.id)
        wanted = wanted_keys(ids)
        return [ColumnType(record=c) for c in columns if wanted is None or c.id in wanted]

    @strawberry.field(description="The board's groups, archived ones included.")
    async def groups(self, info: Info, ids: list[str | None] | None = None) -> list[GroupType]:
        groups = (await info.context.services.boards.groups([self.record.id]))[self.record.id]
        wanted = wanted_keys(ids)
        return [GroupType(record=g) for g in groups if wanted is None or g.id in wanted]

    @strawberry.field(
        description="The board's active items in board order; all of them unless paged."
    )
    async def items(
        self,
        info: Info,
        ids: list[ID | None] | None = None,
        limit: int | None = None,
        page: int | None = None,
        newest_first: bool | None = None,
    ) -> list[ItemType]:
        return await rows_page(
            info, ids, limit, page,
            board_id=self.record.id, order="newest" if newest_first else "position",
        )  # fmt: skip

    @strawberry.field
    async def activity_logs(
        self, info: Info, limit: int | None = None, page: int | None = None
    ) -> list[ActivityLogType]:
        size, offset = page_window(limit, page)
        logs = await info.context.services.boards.activity(self.record.id, size, offset)
        return [ActivityLogType(record=log) for log in logs]
