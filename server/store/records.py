"""Frozen domain records built from database rows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self, TypeVar

import asyncpg

from server.imports import cells

Row = asyncpg.Record
T = TypeVar("T")

ROLES = ("OWNER", "ADMIN", "MEMBER", "CLIENT", "COMMENT_ONLY", "VIEW_ONLY")
EDIT_ROLES = frozenset({"OWNER", "ADMIN", "MEMBER"})
MANAGE_ROLES = frozenset({"OWNER", "ADMIN"})
MAX_NAME = 255  # characters in an item, board, group or column name, as monday documents


def from_row(cls: type[T], row: Row, **overrides: Any) -> T:
    """A record from a row whose columns carry the record's field names."""
    # T is bound to the dataclass records of this module; mypy cannot see that through TypeVar
    names = [f.name for f in dataclasses.fields(cls) if f.name not in overrides]  # type: ignore[arg-type]
    return cls(**{name: row[name] for name in names}, **overrides)


class RowRecord:
    """A record whose every field is the row's column of the same name."""

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(cls, row)


@dataclass(frozen=True, kw_only=True)
class User(RowRecord):
    id: int
    account_id: int
    name: str
    email: str
    is_admin: bool
    enabled: bool
    kind: str
    created_at: datetime
    account_plan: str
    account_slug: str


@dataclass(frozen=True, kw_only=True)
class TeamRecord:
    id: int
    account_id: int
    name: str
    user_ids: tuple[int, ...]

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(cls, row, user_ids=tuple(row["user_ids"]))


@dataclass(frozen=True, kw_only=True)
class Board:
    id: int
    account_id: int
    name: str
    uid: str
    slug: str
    description: str | None
    board_kind: str
    state: str
    hierarchy_levels: int
    owner_id: int | None
    created_at: datetime
    updated_at: datetime
    # the caller's access level: its membership role, or ADMIN for an account admin
    role: str | None = None

    @classmethod
    def from_row(cls, row: Row, *, is_admin: bool = False) -> Self:
        role = row.get("role")
        if role is None and is_admin:
            role = "ADMIN"
        return from_row(cls, row, role=role)

    @property
    def can_edit(self) -> bool:
        return self.role in EDIT_ROLES


@dataclass(frozen=True, kw_only=True)
class ColumnRecord(RowRecord):
    board_id: int
    id: str
    title: str
    type: str
    settings: dict[str, Any] = field(default_factory=dict)
    position: int
    archived: bool

    def cell_column(self) -> cells.Column:
        """The column as the cell converters take it."""
        return cells.Column(id=self.id, title=self.title, type=self.type, settings=self.settings)


@dataclass(frozen=True, kw_only=True)
class GroupRecord(RowRecord):
    board_id: int
    id: str
    title: str
    color: str
    position: int
    archived: bool
    deleted: bool


@dataclass(frozen=True, kw_only=True)
class ItemRecord(RowRecord):
    id: int
    board_id: int
    group_id: str
    parent_id: int | None
    level: int
    name: str
    position: int
    creator_id: int | None
    state: str
    created_at: datetime
    updated_at: datetime
    # Blue's record fields
    done: bool = False
    start_date: datetime | None = None
    due_date: datetime | None = None
    description: str | None = None
    color: str | None = None


@dataclass(frozen=True, kw_only=True)
class ColumnValueRecord(RowRecord):
    item_id: int
    column_id: str
    value: Any
    text: str


@dataclass(frozen=True, kw_only=True)
class ActivityRecord(RowRecord):
    id: int
    item_id: int | None
    user_id: int | None
    event: str
    data: dict[str, Any]
    created_at: datetime
