"""The account settings query: monday's `account`, plus the completion-callback secret."""

from __future__ import annotations

import strawberry
from strawberry import ID

from server import callbacks
from server.api.context import Info
from server.errors import Unauthorized


@strawberry.type
class AccountPlan:
    tier: str


@strawberry.type(name="Account")
class AccountType:
    id: ID
    name: str
    slug: str
    plan: AccountPlan
    account_id: strawberry.Private[int]

    @strawberry.field(
        description="Secret of the HMAC-SHA256 signature (header X-Signature-SHA256) on job "
        "completion callbacks. Account admins only."
    )
    async def callback_secret(self, info: Info) -> str:
        if not info.context.user.is_admin:
            raise Unauthorized("Only admin users can perform this operation.", status_code=403)
        return await callbacks.account_secret(info.context.services.pool, self.account_id)


async def account_of(info: Info, account_id: int) -> AccountType:
    row = await info.context.services.accounts.account(account_id)
    return AccountType(
        id=ID(str(account_id)),
        name=row["name"],
        slug=row["slug"],
        plan=AccountPlan(tier=row["plan"]),
        account_id=account_id,
    )


@strawberry.type
class AccountQuery:
    @strawberry.field
    async def account(self, info: Info) -> AccountType:
        return await account_of(info, info.context.user.account_id)
