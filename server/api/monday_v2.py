"""monday API v2 queries: boards, items, items_by_column_values, updates, tags, users, teams, me.

Reading needs board membership (account admins read every board of their account); what the
caller may not read, and anything of another account, is left out as if it did not exist.
"""

from __future__ import annotations

import strawberry
from strawberry import ID

from server import numeric_ids, sql
from server.api.context import Info
from server.api.monday_v2_people import TeamType, UserKind, UserType, people_store
from server.api.monday_v2_types import (
    BoardKind,
    BoardType,
    ItemType,
    State,
    TagType,
    UpdateType,
    checked_limit,
    page_window,
    state_filter,
    updates_page,
)


def _listed_board_states(ids: list[ID | None] | None) -> list[str]:
    """The boards whose items (and their updates) a top-level list shows. Listed without ids,
    the active boards, as `boards` lists them by default. Asked for by id, archived boards
    too, which stay readable (boards(state: archived)); never deleted boards, which the
    mutations already treat as unknown."""
    return ["active"] if ids is None else ["active", "archived"]


@strawberry.type
class MondayQuery:
    @strawberry.field
    async def boards(
        self,
        info: Info,
        ids: list[ID | None] | None = None,
        limit: int | None = None,
        page: int | None = None,
        board_kind: BoardKind | None = None,
        state: State | None = State.active,
        newest_first: bool | None = None,
    ) -> list[BoardType]:
        size, offset = page_window(limit, page)
        boards = await info.context.services.boards.visible_boards(
            info.context.user,
            ids=numeric_ids.parse_ids(ids),
            state=state_filter(state),
            limit=size,
            offset=offset,
            board_kind=board_kind.value if board_kind else None,
            newest_first=bool(newest_first),
        )
        return [BoardType(record=b) for b in boards]

    @strawberry.field(
        description="Items by ids (in any state) on boards that are not deleted, or without "
        "ids the active items of every active board the caller can read."
    )
    async def items(
        self,
        info: Info,
        ids: list[ID | None] | None = None,
        limit: int | None = None,
        page: int | None = None,
        newest_first: bool | None = None,
    ) -> list[ItemType]:
        size, offset = page_window(limit, page)
        items = await info.context.services.boards.items_page(
            info.context.user,
            ids=numeric_ids.parse_ids(ids),
            state=None if ids is not None else "active",
            order="newest" if newest_first else "id",
            limit=size,
            offset=offset,
            board_states=_listed_board_states(ids),
        )
        return [ItemType(record=i) for i in items]

    @strawberry.field(
        description="Items whose column reads column_value: its text, a date column's day, "
        "or the item name for column_id `name`."
    )
    async def items_by_column_values(
        self,
        info: Info,
        board_id: ID,
        column_id: str,
        column_value: str,
        column_type: str | None = None,
        state: State | None = State.active,
        limit: int | None = None,
        page: int | None = None,
    ) -> list[ItemType]:
        # column_type only helps monday find the column; the column id says it all here
        del column_type
        size, offset = page_window(limit, page)
        if not (sql.storable(column_id) and sql.storable(column_value)):
            return []  # no column has that id, no value reads that text
        boards = await info.context.services.boards.visible_boards(
            info.context.user, ids=numeric_ids.parse_ids([board_id])
        )
        if not boards or boards[0].state == "deleted":
            return []
        items = await info.context.services.boards.items_by_column_value(
            boards[0].id, column_id, column_value, state_filter(state), size, offset
        )
        return [ItemType(record=i) for i in items]

    @strawberry.field(
        description="Updates on items the caller can read, newest first: by ids on boards "
        "that are not deleted, or without ids those of active boards."
    )
    async def updates(
        self,
        info: Info,
        ids: list[ID | None] | None = None,
        limit: int | None = None,
        page: int | None = None,
    ) -> list[UpdateType]:
        return await updates_page(
            info, limit, page,
            ids=numeric_ids.parse_ids(ids), board_states=_listed_board_states(ids),
        )  # fmt: skip

    @strawberry.field(
        description="The account's public tags: account-wide ones and those of public boards."
    )
    async def tags(self, info: Info, ids: list[ID | None] | None = None) -> list[TagType]:
        tags = await info.context.services.boards.public_tags(
            info.context.user, numeric_ids.parse_ids(ids)
        )
        return [TagType.of(t) for t in tags]

    @strawberry.field
    async def users(
        self,
        info: Info,
        ids: list[ID | None] | None = None,
        kind: UserKind | None = UserKind.all,
        newest_first: bool | None = None,
        limit: int | None = None,
    ) -> list[UserType]:
        users = await people_store(info).users(
            info.context.user.account_id,
            ids=numeric_ids.parse_ids(ids),
            kind=None if kind in (None, UserKind.all) else kind.value,
            newest_first=bool(newest_first),
            limit=checked_limit(limit),
        )
        return [UserType(record=u) for u in users]

    @strawberry.field
    async def teams(self, info: Info, ids: list[ID | None] | None = None) -> list[TeamType]:
        user = info.context.user
        teams = await info.context.services.accounts.teams(
            user.account_id, numeric_ids.parse_ids(ids)
        )
        return [TeamType(record=t) for t in teams]

    @strawberry.field
    def me(self, info: Info) -> UserType:
        return UserType(record=info.context.user)
