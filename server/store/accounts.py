"""Accounts, users and teams: the queries behind authentication and the people directory."""

from __future__ import annotations

import hashlib

from asyncpg import Record

from server import sql
from server.db import Pool
from server.store.records import TeamRecord, User

Q = sql.queries("accounts")


def hash_token(token: str) -> str:
    """Tokens are kept as SHA-256 digests: a leaked table gives no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


class AccountStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def user_by_token(self, token: str) -> User | None:
        row = await self.pool.fetchrow(Q["user_by_token"], hash_token(token))
        return User.from_row(row) if row else None

    async def user_by_token_pair(
        self, token_id: str, token_secret: str, account_slug: str | None
    ) -> User | None:
        row = await self.pool.fetchrow(
            Q["user_by_token_pair"], token_id, hash_token(token_secret), account_slug
        )
        return User.from_row(row) if row else None

    async def revoke_token(self, token: str, channel: str) -> list[int]:
        """Unset the token; NOTIFY `channel` with each user it belonged to. Returns their ids."""
        rows = await self.pool.fetch(Q["revoke_token"], hash_token(token), channel)
        return [row["id"] for row in rows]

    async def users(
        self,
        account_id: int,
        ids: list[int] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[User]:
        rows = await self.pool.fetch(Q["users_of_account"], account_id, ids, limit, offset)
        return [User.from_row(row) for row in rows]

    async def account(self, account_id: int) -> Record:
        row = await self.pool.fetchrow(Q["account"], account_id)
        assert row is not None  # a user's account exists: users cascade with it
        return row

    async def teams(self, account_id: int, ids: list[int] | None = None) -> list[TeamRecord]:
        rows = await self.pool.fetch(Q["teams_of_account"], account_id, ids)
        return [TeamRecord.from_row(row) for row in rows]
