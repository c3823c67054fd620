"""monday API v2 people: users, teams and the account, and the `users` query's kinds."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry import ID

from server.api.account import AccountType, account_of
from server.api.context import Info
from server.store.people import PeopleStore
from server.store.records import TeamRecord, User


def people_store(info: Info) -> PeopleStore:
    return PeopleStore(info.context.services.pool)


async def users_by_id(info: Info, ids: list[int]) -> list[UserType]:
    """Users of the caller's account, in the order of `ids`; unknown ids left out."""
    if not ids:
        return []
    users = await info.context.services.accounts.users(info.context.user.account_id, ids)
    by_id = {u.id: u for u in users}
    return [UserType(record=by_id[i]) for i in dict.fromkeys(ids) if i in by_id]


async def user_by_id(info: Info, user_id: int | None) -> UserType | None:
    """The user of the caller's account with that id; None for no id or an unknown one."""
    found = await users_by_id(info, [user_id] if user_id is not None else [])
    return found[0] if found else None


@strawberry.enum(description="Which users `users` returns.")
class UserKind(Enum):
    all = "all"
    non_guests = "non_guests"
    guests = "guests"
    non_pending = "non_pending"


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

    # is_guest, is_pending, created_at, join_date, utc_hours_diff: nullable as monday documents
    # them, so that a client written against this server is ready for monday's nulls
    @strawberry.field
    def is_guest(self) -> bool | None:
        return self.record.kind == "guest"

    @strawberry.field
    def is_pending(self) -> bool | None:
        return self.record.kind == "pending"

    @strawberry.field
    def enabled(self) -> bool:
        return self.record.enabled

    @strawberry.field
    def created_at(self) -> str | None:
        return self.record.created_at.isoformat()

    @strawberry.field
    def join_date(self) -> str | None:
        return self.record.created_at.date().isoformat()

    @strawberry.field
    def url(self) -> str:
        return f"https://{self.record.account_slug}.monday.com/users/{self.record.id}"

    # monday profile fields this server does not keep
    birthday: str | None = None
    country_code: str | None = None
    location: str | None = None
    mobile_phone: str | None = None
    phone: str | None = None
    photo_original: str | None = None
    photo_thumb: str | None = None
    title: str | None = None

    @strawberry.field(description="Every user is on UTC here.")
    def utc_hours_diff(self) -> int | None:
        return 0

    @strawberry.field
    async def account(self, info: Info) -> AccountType:
        return await account_of(info, self.record.account_id)

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

    picture_url: str | None = None  # not kept by this server

    @strawberry.field
    async def users(self, info: Info) -> list[UserType]:
        users = await info.context.services.accounts.users(
            self.record.account_id, list(self.record.user_ids)
        )
        return [UserType(record=u) for u in users]
