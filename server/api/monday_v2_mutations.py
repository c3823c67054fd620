"""monday API v2 mutations: boards, columns, groups, items, column values, updates,
notifications and tags, with monday's argument names.

Access: changing items and their values takes the roles an import takes (OWNER, ADMIN,
MEMBER, CLIENT); shaping a board (columns, groups) takes OWNER, ADMIN or MEMBER; archiving or
deleting a board takes OWNER or ADMIN; an update may also come from COMMENT_ONLY members.
Boards and items the caller cannot read, or of another account, are NOT_FOUND as unknown ids.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, TypeVar

import strawberry
from strawberry import ID
from strawberry.scalars import JSON

from server import columnvalues, numeric_ids, sql
from server.api.context import Info
from server.api.monday_import import INGEST_ROLES
from server.api.monday_v2_people import user_by_id
from server.api.monday_v2_types import (
    BoardKind,
    BoardType,
    ColumnKind,
    ColumnType,
    GroupType,
    ItemType,
    NotificationTargetType,
    NotificationType,
    TagType,
    UpdateType,
    item_store,
)
from server.errors import AppError, BadUserInput, NotFound, Unauthorized, clip, shown
from server.imports import cells
from server.store import directory as directory_store
from server.store.boards import LastGroup
from server.store.exports import ExportStore
from server.store.items import GroupClosed, ValueWrite
from server.store.records import (
    EDIT_ROLES,
    MANAGE_ROLES,
    MAX_NAME,
    ROLES,
    Board,
    GroupRecord,
    ItemRecord,
)

ITEM_ROLES = INGEST_ROLES  # who may write items: whoever may import them
UPDATE_ROLES = ITEM_ROLES | {"COMMENT_ONLY"}
READ_ROLES = frozenset(ROLES)
FIRST_GROUP = ("topics", "Group Title")  # the empty group a new board starts with
DEFAULT_STATUS_LABELS = ["Working on it", "Done", "Stuck"]
COLUMN_ID = re.compile(r"[a-z0-9_]{1,20}")  # monday's rule for chosen column ids
ID_ATTEMPTS = 50  # generated column or group ids tried before giving up
DIRECTORY_TYPES = frozenset({"people", "board_relation", "tags"})
T = TypeVar("T")


def _number(value: ID | None, argument: str) -> int | None:
    """The id an argument names; None (an unknown id) when it names none."""
    if value is None:
        raise BadUserInput(f"{argument} is required", error_data={argument: None})
    return numeric_ids.parse_id(str(value))


def _storable(value: T, argument: str) -> T:
    """A text or decoded JSON argument PostgreSQL can store: it refuses a NUL character (jsonb
    its \\u0000 escape too), and a lone surrogate (JSON's \\ud800) has no UTF-8 form. The
    value is not echoed back in the error either."""
    if not sql.storable_json(value):
        raise BadUserInput(
            f"{argument} must not contain a NUL character or a lone surrogate",
            error_data={argument: None},
        )
    return value


def _name(value: Any, argument: str) -> str:
    name = _storable(value, argument).strip() if isinstance(value, str) else ""
    if not 1 <= len(name) <= MAX_NAME:
        raise BadUserInput(
            f"{argument} must be a string of 1 to {MAX_NAME} characters",
            error_data={argument: value if isinstance(value, str) else None},
        )
    return name


def _board_not_found(board_id: object) -> NotFound:
    return NotFound(f"Board {clip(board_id)} not found", error_data={"board_id": str(board_id)})


def _unauthorized(board: Board, need: str) -> Unauthorized:
    return Unauthorized(
        f"User unauthorized to perform action: {need} access to the board is required",
        status_code=403,
        error_data={"board_id": str(board.id)},
    )


async def _board(info: Info, board_id: ID | int, roles: frozenset[str], need: str) -> Board:
    """A board the caller may act on: NOT_FOUND when unknown, deleted or unreadable."""
    number = _number(ID(str(board_id)), "board_id")
    board = None
    if number is not None:
        board = await info.context.services.boards.board_for_user(info.context.user, str(number))
    if board is None or board.id != number or board.state == "deleted":
        raise _board_not_found(board_id)
    if board.role not in roles:
        raise _unauthorized(board, need)
    return board


async def _item(
    info: Info, item_id: ID | None, roles: frozenset[str], need: str
) -> tuple[ItemRecord, Board]:
    number = _number(item_id, "item_id")
    found: list[ItemRecord] = []
    if number is not None:
        found = await info.context.services.boards.items_by_ids(info.context.user, [number], 1)
    if not found or found[0].state == "deleted":
        raise NotFound(f"Item {clip(item_id)} not found", error_data={"item_id": str(item_id)})
    return found[0], await _board(info, found[0].board_id, roles, need)


async def _group(info: Info, board: Board, group_id: str) -> GroupType:
    # an id PostgreSQL cannot take names no group, as an unknown id does
    group = None
    if sql.storable(group_id):
        group = await info.context.services.boards.group(board.id, group_id)
    if group is None:
        raise NotFound(
            f"Group {shown(group_id)} not found on board {board.id}",
            error_data={"group_id": group_id},
        )
    return GroupType(record=group)


async def _open_group(info: Info, board: Board, group_id: str) -> GroupRecord:
    """A group that may take items: an archived group keeps the items it has, and takes no
    new ones (they would be hidden with it)."""
    group = (await _group(info, board, group_id)).record
    if group.archived:
        raise BadUserInput(
            f"Group {shown(group_id)} is archived and takes no items",
            error_data={"group_id": group_id},
        )
    return group


async def _closed_meanwhile(info: Info, board: Board, group_id: str) -> AppError:
    """The error for a group closed between `_open_group` and the write: the one
    `_open_group` gives now."""
    try:
        await _open_group(info, board, group_id)
    except AppError as exc:
        return exc
    return NotFound(f"Group {shown(group_id)} not found on board {board.id}")


async def _value_writes(
    info: Info, board: Board, values: dict[str, Any], create_labels: bool
) -> tuple[list[ValueWrite], str | None]:
    """monday column values (column id -> JSON value) as stored values; the pseudo-column
    `name` renames the item."""
    services = info.context.services
    columns = {
        c.id: c for c in (await services.boards.columns([board.id]))[board.id] if not c.archived
    }
    name = _name(values["name"], "name") if "name" in values else None
    wanted = [column_id for column_id in values if column_id != "name"]
    for column_id in wanted:
        if column_id not in columns:
            raise NotFound(
                f"Column {shown(column_id)} not found on board {board.id}",
                error_data={"column_id": column_id},
            )
    directory = cells.Directory()
    if any(columns[c].type in DIRECTORY_TYPES for c in wanted):
        targets = [int(b) for c in wanted for b in columns[c].settings.get("board_ids", [])]
        directory = await directory_store.load_directory(
            services.pool, info.context.user.account_id, targets, board_id=board.id
        )
    writes = []
    for column_id in wanted:
        column = columns[column_id]
        try:
            cell = columnvalues.from_json(column.cell_column(), values[column_id], directory)
        except columnvalues.MissingLabels as exc:
            # adding labels changes the column: only those who may shape the board do it
            if not create_labels or board.role not in EDIT_ROLES:
                raise
            column = await services.boards.add_labels(board.id, column_id, exc.labels)
            cell = columnvalues.from_json(column.cell_column(), values[column_id], directory)
        stored = cell.value if cell is not None else None
        writes.append(
            ValueWrite(
                column_id=column_id, column_type=column.type, column_title=column.title,
                value=stored, text=cell.text if cell is not None and stored is not None else "",
            )
        )  # fmt: skip
    return writes, name


async def _change(
    info: Info,
    board_id: ID,
    item_id: ID | None,
    values: dict[str, Any],
    create_labels: bool | None,
) -> ItemType:
    item, board = await _item(info, item_id, ITEM_ROLES, "edit")
    if str(board.id) != str(board_id).strip():
        raise NotFound(f"Item {clip(item_id)} not found", error_data={"item_id": str(item_id)})
    writes, name = await _value_writes(info, board, values, bool(create_labels))
    changed = await item_store(info).change_values(
        item.id, board_id=board.id, user_id=info.context.user.id, values=writes, name=name,
        now=info.context.services.clock.now(),
    )  # fmt: skip
    return ItemType(record=changed)


# The labels are kept as a list by index, so an index sets the list's length: without a
# bound, {"labels": {"9999999999": "x"}} would allocate billions of entries.
MAX_LABEL_INDEX = 1000


def _check_label_indexes(indexed: dict[int, Any]) -> None:
    too_large = [index for index in indexed if index > MAX_LABEL_INDEX]
    if too_large:
        raise BadUserInput(
            f"Label index {min(too_large)} is out of range: indexes go from 0 to {MAX_LABEL_INDEX}",
            error_data={"label_index": str(min(too_large))},
        )


def _dropdown_id(entry: Any) -> int | None:
    """The id of a dropdown label given as {"id": 1, "name": "A"}; None for another form."""
    if not (isinstance(entry, dict) and "name" in entry) or isinstance(entry.get("id"), bool):
        return None
    label_id = numeric_ids.parse_id(str(entry.get("id")))
    return label_id if label_id else None  # ids start at 1


def _settings(column_type: ColumnKind, defaults: Any) -> dict[str, Any]:
    """Column settings from monday's `defaults` JSON, in the shape the board model keeps."""
    settings = _storable(columnvalues.decode_object(defaults, "defaults"), "defaults")
    labels = settings.get("labels")
    if column_type in (ColumnKind.status, ColumnKind.dropdown):
        if isinstance(labels, dict):  # monday's status form: {"0": "Working on it", ...}
            keys = {numeric_ids.parse_id(k): v for k, v in labels.items()}
            indexed = {k: v for k, v in keys.items() if k is not None}
            _check_label_indexes(indexed)
            labels = [indexed.get(i) for i in range(max(indexed, default=-1) + 1)]
        if isinstance(labels, list) and labels and all(_dropdown_id(e) for e in labels):
            # monday's dropdown form, [{"id": 1, "name": "A"}, ...]: a value names a label by
            # its id, so a label keeps the id given (settings_str shows them so)
            by_id = {_dropdown_id(e) or 0: e["name"] for e in labels}
            _check_label_indexes(by_id)
            labels = [by_id.get(i) for i in range(1, max(by_id) + 1)]
        if isinstance(labels, list):  # names without ids, or labels by position
            labels = [
                e.get("name", e.get("label")) if isinstance(e, dict) and "name" in e else e
                for e in labels
            ]
        elif column_type == ColumnKind.status:
            labels = list(DEFAULT_STATUS_LABELS)
        settings["labels"] = labels if isinstance(labels, list) else []
    if column_type == ColumnKind.board_relation:
        boards = settings.pop("boardIds", None) or settings.get("board_ids") or []
        entries = boards if isinstance(boards, list) else [boards]
        for entry in entries:
            if numeric_ids.parse_number(entry) is not None and numeric_ids.parse_id(entry) is None:
                raise _board_not_found(entry)  # too large to be any board's id
        settings["board_ids"] = numeric_ids.parse_ids(entries)
    return settings


@strawberry.type
class MondayMutation:
    @strawberry.mutation
    async def create_board(
        self,
        info: Info,
        board_name: str,
        board_kind: BoardKind,
        description: str | None = None,
    ) -> BoardType:
        user = info.context.user
        if user.kind == "guest":
            raise Unauthorized("Guests cannot create boards", status_code=403)
        board = await info.context.services.boards.create_board(
            user, name=_name(board_name, "board_name"), board_kind=board_kind.value,
            description=None if description is None else _storable(description, "description"),
            uid="c" + secrets.token_hex(12), first_group=FIRST_GROUP,
            now=info.context.services.clock.now(),
        )  # fmt: skip
        return BoardType(record=board)

    @strawberry.mutation
    async def archive_board(self, info: Info, board_id: ID) -> BoardType:
        return await _set_board_state(info, board_id, "archived")

    @strawberry.mutation
    async def delete_board(self, info: Info, board_id: ID) -> BoardType:
        return await _set_board_state(info, board_id, "deleted")

    @strawberry.mutation
    async def create_column(
        self,
        info: Info,
        board_id: ID,
        title: str,
        column_type: ColumnKind | None = ColumnKind.text,
        defaults: JSON | None = None,
        id: str | None = None,
    ) -> ColumnType:
        board = await _board(info, board_id, EDIT_ROLES, "edit")
        boards = info.context.services.boards
        column_type = column_type or ColumnKind.text
        settings = _settings(column_type, defaults)
        if column_type == ColumnKind.board_relation and settings["board_ids"]:
            linked = await boards.visible_boards(info.context.user, ids=settings["board_ids"])
            missing = set(settings["board_ids"]) - {b.id for b in linked}
            if missing:
                raise _board_not_found(min(missing))
        if id is not None and (not COLUMN_ID.fullmatch(id) or id == "name"):
            raise BadUserInput(
                "id must be 1 to 20 lowercase letters, digits or underscores, and not 'name'",
                error_data={"id": id},
            )
        taken = await boards.column_ids(board.id) | {"name"}
        candidates = [id] if id is not None else [
            column_type.value if n == 0 else f"{column_type.value}_{n}" for n in range(ID_ATTEMPTS)
        ]  # fmt: skip
        for column_id in candidates:
            if column_id in taken:
                continue
            column = await boards.create_column(
                board.id, column_id, _name(title, "title"), column_type.value, settings
            )
            if column is not None:
                return ColumnType(record=column)
        raise BadUserInput(
            f"Column id {candidates[-1]!r} is taken on board {board.id}",
            error_data={"id": candidates[-1]},
        )

    @strawberry.mutation
    async def change_column_value(
        self,
        info: Info,
        board_id: ID,
        column_id: str,
        value: JSON,
        item_id: ID | None = None,
        create_labels_if_missing: bool | None = None,
    ) -> ItemType:
        values = {column_id: columnvalues.decode(value)}
        return await _change(info, board_id, item_id, values, create_labels_if_missing)

    @strawberry.mutation(description="Set a column from a plain string in the CSV cell format.")
    async def change_simple_column_value(
        self,
        info: Info,
        board_id: ID,
        column_id: str,
        value: str | None = None,
        item_id: ID | None = None,
        create_labels_if_missing: bool | None = None,
    ) -> ItemType:
        values = {column_id: value or ""}
        return await _change(info, board_id, item_id, values, create_labels_if_missing)

    @strawberry.mutation
    async def change_multiple_column_values(
        self,
        info: Info,
        board_id: ID,
        column_values: JSON,
        item_id: ID | None = None,
        create_labels_if_missing: bool | None = None,
    ) -> ItemType:
        values = columnvalues.decode_object(column_values, "column_values")
        return await _change(info, board_id, item_id, values, create_labels_if_missing)

    @strawberry.mutation
    async def create_group(self, info: Info, board_id: ID, group_name: str) -> GroupType:
        board = await _board(info, board_id, EDIT_ROLES, "edit")
        title = _name(group_name, "group_name")
        services = info.context.services
        async with services.pool.acquire() as conn, conn.transaction():
            for _ in range(ID_ATTEMPTS):
                group = await services.boards.insert_group(
                    conn, board.id, _new_group_id(), title, at_top=True
                )
                if group is not None:
                    return GroupType(record=group)
        raise BadUserInput("Could not choose a free group id; try again")

    @strawberry.mutation
    async def duplicate_group(
        self,
        info: Info,
        board_id: ID,
        group_id: str,
        add_to_top: bool | None = None,
        group_title: str | None = None,
    ) -> GroupType:
        board = await _board(info, board_id, EDIT_ROLES, "edit")
        source = (await _group(info, board, group_id)).record
        # the default title is cut to a name's 255 characters, as a title given is held to them
        default = f"Duplicate of {source.title}"[:MAX_NAME]
        title = _name(group_title, "group_title") if group_title else default
        services = info.context.services
        async with services.pool.acquire() as conn, conn.transaction():
            group = None
            while group is None:
                group = await services.boards.insert_group(
                    conn, board.id, _new_group_id(), title, source.color, at_top=bool(add_to_top)
                )
            await item_store(info).copy_group_items(
                conn, board.id, source.id, group.id, user_id=info.context.user.id,
                now=services.clock.now(),
            )  # fmt: skip
        return GroupType(record=group)

    @strawberry.mutation
    async def archive_group(self, info: Info, board_id: ID, group_id: str) -> GroupType:
        return await _close_group(info, board_id, group_id, "archived")

    @strawberry.mutation
    async def delete_group(self, info: Info, board_id: ID, group_id: str) -> GroupType:
        return await _close_group(info, board_id, group_id, "deleted")

    @strawberry.mutation
    async def create_item(
        self,
        info: Info,
        board_id: ID,
        item_name: str | None = None,
        group_id: str | None = None,
        column_values: JSON | None = None,
        create_labels_if_missing: bool | None = None,
    ) -> ItemType:
        board = await _board(info, board_id, ITEM_ROLES, "edit")
        values = columnvalues.decode_object(column_values, "column_values")
        if item_name is not None:
            # checked here so that the error names the argument given, not column_values' key
            values["name"] = _name(item_name, "item_name")
        if "name" not in values:
            raise BadUserInput("item_name is required", error_data={"item_name": None})
        services = info.context.services
        if group_id is None:
            groups = (await services.boards.groups([board.id]))[board.id]
            live = [g for g in groups if not g.archived]
            if not live:
                raise NotFound(f"Board {board.id} has no group to add the item to")
            group_id = live[0].id
        else:
            await _open_group(info, board, group_id)
        writes, name = await _value_writes(info, board, values, bool(create_labels_if_missing))
        try:
            item = await item_store(info).create_item(
                board_id=board.id, group_id=group_id, name=name or "", user_id=info.context.user.id,
                values=writes, now=services.clock.now(),
            )  # fmt: skip
        except GroupClosed as exc:
            raise await _closed_meanwhile(info, board, group_id) from exc
        return ItemType(record=item)

    @strawberry.mutation
    async def move_item_to_group(
        self, info: Info, group_id: str, item_id: ID | None = None
    ) -> ItemType:
        item, board = await _item(info, item_id, ITEM_ROLES, "edit")
        group = await _open_group(info, board, group_id)
        try:
            moved = await item_store(info).move_item(
                item, group.id, user_id=info.context.user.id, now=info.context.services.clock.now()
            )
        except GroupClosed as exc:
            raise await _closed_meanwhile(info, board, group_id) from exc
        return ItemType(record=moved)

    @strawberry.mutation
    async def archive_item(self, info: Info, item_id: ID | None = None) -> ItemType:
        return await _set_item_state(info, item_id, "archived")

    @strawberry.mutation
    async def delete_item(self, info: Info, item_id: ID | None = None) -> ItemType:
        return await _set_item_state(info, item_id, "deleted")

    @strawberry.mutation
    async def create_update(self, info: Info, body: str, item_id: ID | None = None) -> UpdateType:
        item, _ = await _item(info, item_id, UPDATE_ROLES, "comment")
        if not _storable(body, "body").strip():
            raise BadUserInput("body must not be empty", error_data={"body": body})
        update = await item_store(info).create_update(
            item, body, user_id=info.context.user.id, now=info.context.services.clock.now()
        )
        return UpdateType(record=update)

    @strawberry.mutation(
        description="Notify a user of the account about a board or item (Project) or an "
        "update (Post); the e-mail it would send is kept in the admin outbox."
    )
    async def create_notification(
        self,
        info: Info,
        user_id: ID,
        target_id: ID,
        text: str,
        target_type: NotificationTargetType,
        payload: JSON | None = None,
    ) -> NotificationType:
        user = info.context.user
        recipient_id = _number(user_id, "user_id")
        found = await user_by_id(info, recipient_id)
        if found is None:
            raise NotFound(f"User {clip(user_id)} not found", error_data={"user_id": str(user_id)})
        recipient = found.record
        if not _storable(text, "text").strip():
            raise BadUserInput("text must not be empty", error_data={"text": text})
        posts = (NotificationTargetType.Post, NotificationTargetType.post)
        kind = "Post" if target_type in posts else "Project"
        target = await _notification_target(info, target_id, kind)
        services = info.context.services
        now = services.clock.now()
        notification = await item_store(info).create_notification(
            account_id=user.account_id, user_id=recipient.id, sender_id=user.id, target_id=target,
            target_type=kind, text=text, payload=_storable(columnvalues.decode(payload, "payload"), "payload"),
            now=now,
        )  # fmt: skip
        await ExportStore(services.pool).send_message(
            account_id=user.account_id, to=recipient.email,
            subject=f"{user.name} sent you a notification", body=f"{text}\n", links=[], now=now,
        )  # fmt: skip
        return NotificationType(id=ID(str(notification.id)), text=notification.text)

    @strawberry.mutation(
        description="The tag of that name (ignoring case), created if missing: account-wide, "
        "or private to board_id when that board is not public."
    )
    async def create_or_get_tag(
        self, info: Info, tag_name: str | None = None, board_id: ID | None = None
    ) -> TagType:
        name = _name(tag_name, "tag_name")
        private_to = None
        if board_id is not None:
            board = await _board(info, board_id, ITEM_ROLES, "edit")
            private_to = board.id if board.board_kind != "public" else None
        tag = await item_store(info).create_or_get_tag(
            info.context.user.account_id, private_to, name
        )
        return TagType.of(tag)


def _new_group_id() -> str:
    return f"group_{secrets.token_hex(4)}"


async def _close_group(info: Info, board_id: ID, group_id: str, state: str) -> GroupType:
    board = await _board(info, board_id, EDIT_ROLES, "edit")
    await _group(info, board, group_id)
    try:
        closed = await info.context.services.boards.close_group(
            board.id, group_id, state, user_id=info.context.user.id,
            now=info.context.services.clock.now(),
        )  # fmt: skip
    except LastGroup as exc:
        raise BadUserInput(
            "A board keeps at least one group: this is its last one",
            error_data={"group_id": group_id},
        ) from exc
    if closed is None:  # deleted meanwhile
        raise NotFound(f"Group {shown(group_id)} not found on board {board.id}")
    return GroupType(record=closed)


async def _set_board_state(info: Info, board_id: ID, state: str) -> BoardType:
    board = await _board(info, board_id, MANAGE_ROLES, "owner")
    services = info.context.services
    return BoardType(
        record=await services.boards.set_board_state(board, state, services.clock.now())
    )


async def _set_item_state(info: Info, item_id: ID | None, state: str) -> ItemType:
    item, _ = await _item(info, item_id, ITEM_ROLES, "edit")
    changed = await item_store(info).set_item_state(
        item, state, user_id=info.context.user.id, now=info.context.services.clock.now()
    )
    return ItemType(record=changed)


async def _notification_target(info: Info, target_id: ID, kind: str) -> int:
    """The id of a target the caller can read: a board or an item, or an update."""
    number = _number(target_id, "target_id")
    not_found = NotFound(
        f"Target {clip(target_id)} not found", error_data={"target_id": str(target_id)}
    )
    if number is None:
        raise not_found
    if kind == "Post":
        update = await item_store(info).update_of_account(info.context.user.account_id, number)
        item_id = update.item_id if update is not None else None
    else:
        boards = await info.context.services.boards.visible_boards(info.context.user, ids=[number])
        if boards and boards[0].state != "deleted":
            return number
        item_id = number
    try:
        await _item(info, ID(str(item_id)), READ_ROLES, "read")
    except NotFound as exc:
        raise not_found from exc
    return number
