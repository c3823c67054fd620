"""The lookups cells resolve against, loaded once per import: people, teams, relation targets."""

from __future__ import annotations

from server import sql
from server.db import Connection, Pool
from server.imports import cells

QA = sql.queries("accounts")
QB = sql.queries("boards")


async def load_directory(
    conn: Pool | Connection, account_id: int, board_ids: list[int], *, board_id: int | None
) -> cells.Directory:
    """The account's lookups for values of `board_id`, whose tags are the account-wide ones
    and its own; `board_ids` are the boards relation cells point at. `board_id` None reads
    every tag of the account: only to show values already stored."""
    users = await conn.fetch(QA["directory_users"], account_id)
    teams = await conn.fetch(QA["directory_teams"], account_id)
    tags = await conn.fetch(QA["directory_tags"], account_id, board_id)
    items: dict[int, dict[int, str]] = {target: {} for target in board_ids}
    for row in await conn.fetch(QB["linkable_items_of_boards"], board_ids, account_id):
        items[row["board_id"]][row["id"]] = row["name"]
    return cells.Directory(
        users=[
            cells.Person(id=r["id"], name=r["name"], email=r["email"], enabled=r["enabled"])
            for r in users
        ],
        teams=[cells.Team(id=r["id"], name=r["name"]) for r in teams],
        items=items,
        tags={r["id"]: r["name"] for r in tags},
    )
