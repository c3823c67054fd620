"""Frozen domain records built from database rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

import asyncpg

Row = asyncpg.Record

ROLES = ("OWNER", "ADMIN", "MEMBER", "CLIENT", "COMMENT_ONLY", "VIEW_ONLY")
EDIT_ROLES = frozenset({"OWNER", "ADMIN", "MEMBER"})
MANAGE_ROLES = frozenset({"OWNER", "ADMIN"})


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
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            name=row["name"],
            email=row["email"],
            is_admin=row["is_admin"],
            enabled=row["enabled"],
            kind=row["kind"],
            created_at=row["created_at"],
            account_plan=row["account_plan"],
            account_slug=row["account_slug"],
        )


@dataclass(frozen=True, kw_only=True)
class TeamRecord:
    id: int
    account_id: int
    name: str
    user_ids: tuple[int, ...]

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return cls(
            id=row["id"],
            account_id=row["account_id"],
            name=row["name"],
            user_ids=tuple(row["user_ids"]),
        )


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
        return cls(
            board_id=row["board_id"],
            id=row["id"],
            title=row["title"],
            type=row["type"],
            settings=row["settings"],
            position=row["position"],
            archived=row["archived"],
        )


@dataclass(frozen=True, kw_only=True)
class GroupRecord:
    board_id: int
    id: str
    title: str
    color: str
    position: int
    archived: bool

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return cls(
            board_id=row["board_id"],
            id=row["id"],
            title=row["title"],
            color=row["color"],
            position=row["position"],
            archived=row["archived"],
        )


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
        return cls(
            done=row["done"],
            start_date=row["start_date"],
            due_date=row["due_date"],
            description=row["description"],
            color=row["color"],
            id=row["id"],
            board_id=row["board_id"],
            group_id=row["group_id"],
            parent_id=row["parent_id"],
            level=row["level"],
            name=row["name"],
            position=row["position"],
            creator_id=row["creator_id"],
            state=row["state"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True, kw_only=True)
class ColumnValueRecord:
    item_id: int
    column_id: str
    value: Any
    text: str

    @classmethod
    def from_row(cls, row: Row) -> Self:
        return cls(
            item_id=row["item_id"], column_id=row["column_id"], value=row["value"], text=row["text"]
        )


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
        return cls(
            id=row["id"],
            item_id=row["item_id"],
            user_id=row["user_id"],
            event=row["event"],
            data=row["data"],
            created_at=row["created_at"],
        )
