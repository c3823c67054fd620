"""The people directory as monday's v2 API reads it: users by kind."""

from __future__ import annotations

from server import sql
from server.db import Pool
from server.store.records import User

Q = sql.queries("people")


class PeopleStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def users(
        self,
        account_id: int,
        *,
        ids: list[int] | None,
        kind: str | None,
        newest_first: bool,
        limit: int | None,
    ) -> list[User]:
        """Users of the account; `kind` is monday's UserKind (None: all)."""
        rows = await self.pool.fetch(Q["users_of_kind"], account_id, ids, kind, newest_first, limit)
        return [User.from_row(row) for row in rows]
