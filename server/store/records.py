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


@dataclass(frozen=True, kw_only=True)
class User:
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

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(cls, row)


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
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            name=row["name"],
            uid=row["uid"],
            slug=row["slug"],
            description=row["description"],
            board_kind=row["board_kind"],
            state=row["state"],
            hierarchy_levels=row["hierarchy_levels"],
            owner_id=row["owner_id"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            role=role,
        )

    @property
    def can_edit(self) -> bool:
        return self.role in EDIT_ROLES


@dataclass(frozen=True, kw_only=True)
class ColumnRecord:
    board_id: int
    id: str
    title: str
    type: str
    settings: dict[str, Any] = field(default_factory=dict)
    position: int
    archived: bool

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(cls, row)

    def cell_column(self) -> cells.Column:
        """The column as the cell converters take it."""
        return cells.Column(id=self.id, title=self.title, type=self.type, settings=self.settings)


@dataclass(frozen=True, kw_only=True)
class GroupRecord:
    board_id: int
    id: str
    title: str
    color: str
    position: int
    archived: bool
    deleted: bool

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(cls, row)


@dataclass(frozen=True, kw_only=True)
class ItemRecord:
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

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(cls, row)


@dataclass(frozen=True, kw_only=True)
class ColumnValueRecord:
    item_id: int
    column_id: str
    value: Any
    text: str

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(cls, row)


@dataclass(frozen=True, kw_only=True)
class ActivityRecord:
    id: int
    item_id: int | None
    user_id: int | None
    event: str
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return from_row(cls, row)
