"""Reading a board's rows, groups and people through monday v2 as the document describes them:
a board's `items` takes only `ids` (all its rows), a group says whether it is deleted, and a
board shows nobody of another account."""

from __future__ import annotations

import asyncio
import json

from tests.conftest import Api
from tests.v2 import create_board, create_column, create_item, values_of

ROWS = 30  # more than the 25 of a default page


async def test_a_boards_items_are_all_its_rows_unless_limited(api: Api) -> None:
    board = await create_board(api, "Many rows")
    made = [await create_item(api, board, f"Row {n}") for n in range(ROWS)]
    # the document gives Board.items only `ids` (Item.updates has limit and page, default 25):
    # a client reading a board's rows gets every one of them
    query = "query($b: [ID!]) { boards(ids: $b) { items { id } groups { items { id } } } }"
    [shown] = (await api.gql(query, {"b": [board]}))["boards"]
    assert [i["id"] for i in shown["items"]] == made
    assert [i["id"] for i in shown["groups"][0]["items"]] == made
    # limit and page still page them, 25 to a page when only page is given
    paged = """query($b: [ID!]) { boards(ids: $b) { a: items(limit: 10, page: 3) { id }
        b: items(page: 2) { id } c: items(limit: 2, newest_first: true) { id } } }"""
    [pages] = (await api.gql(paged, {"b": [board]}))["boards"]
    assert [i["id"] for i in pages["a"]] == made[20:30]
    assert [i["id"] for i in pages["b"]] == made[25:]
    assert [i["id"] for i in pages["c"]] == made[:-3:-1]


async def test_a_deleted_items_group_reads_as_deleted(api: Api) -> None:
    await api.gql('mutation { delete_group(board_id: 100, group_id: "topics") { id } }')
    data = await api.gql("{ items(ids: [1000]) { state group { id title archived deleted } } }")
    # the item still names its group, as monday keeps it: with deleted true (was null)
    assert data["items"] == [
        {
            "state": "deleted",
            "group": {"id": "topics", "title": "Topics", "archived": False, "deleted": True},
        }
    ]
    board = await api.gql("{ boards(ids: [100]) { groups { id deleted } } }")
    assert board["boards"] == [{"groups": [{"id": "closed", "deleted": False}]}]


async def test_a_board_lists_no_subscriber_or_owner_of_another_account(api: Api) -> None:
    # a fixture may name another account's user as a member: that user reads nothing of the
    # board (boards are read within the caller's account), and the board shows no such user
    await api.load_fixture(
        {
            "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
            "boards": [
                {
                    "id": 100, "account_id": 1, "name": "Leads",
                    "members": [{"user_id": 20, "role": "OWNER"}],
                }
            ],
        }
    )  # fmt: skip
    data, gus = await asyncio.gather(
        api.gql("{ boards(ids: [100]) { subscribers { id } owners { id } } }"),
        api.gql("{ boards(ids: [100]) { id } }", token="tok-gus"),
    )
    [board] = data["boards"]
    assert [u["id"] for u in board["subscribers"]] == ["10", "11", "12"]
    assert board["owners"] == [{"id": "10"}]
    assert gus == {"boards": []}


async def test_settings_str_shows_labels_in_mondays_form(api: Api) -> None:
    data = await api.gql('{ boards(ids: 100) { columns(ids: ["status", "dropdown", "budget", '
                         '"text"]) { id settings_str } } }')  # fmt: skip
    settings = {c["id"]: json.loads(c["settings_str"]) for c in data["boards"][0]["columns"]}
    # status labels by index, dropdown labels with the ids their values hold ({"ids": [1]})
    assert settings == {
        "text": {},
        "status": {"labels": {"0": "Working on it", "1": "Done", "2": "Stuck"}},
        "dropdown": {"labels": [{"id": 1, "name": "Option A"}, {"id": 2, "name": "Option B"},
                                {"id": 3, "name": "Option C"}]},
        "budget": {"currency": "USD"},
    }  # fmt: skip


async def test_settings_str_goes_back_into_create_column_unchanged(api: Api) -> None:
    board = await create_board(api)
    await create_column(api, board, "Stage", "status", {"labels": {"0": "New", "2": "Won"}})
    kinds = {"labels": [{"id": 1, "name": "A"}, {"id": 3, "name": "C"}]}
    await create_column(api, board, "Kind", "dropdown", kinds)
    await create_column(api, board, "Client", "board_relation", {"boardIds": [100]})
    query = "query($b: [ID!]) { boards(ids: $b) { columns { id type settings_str } } }"
    [first] = (await api.gql(query, {"b": [board]}))["boards"]
    shown = {c["id"]: json.loads(c["settings_str"]) for c in first["columns"]}
    assert shown == {
        "status": {"labels": {"0": "New", "2": "Won"}},
        "dropdown": kinds,  # the ids given are kept: C is 3, not 2
        "board_relation": {"boardIds": [100]},
    }
    item = await create_item(api, board, "Deal", {"dropdown": {"ids": [3]}})
    assert await values_of(api, item) == {"dropdown": ("C", {"ids": [3]})}
    # a client copying columns passes settings_str as defaults, and gets the same settings
    copy = await create_board(api, "Copy")
    for column in first["columns"]:
        await create_column(api, copy, column["id"], column["type"], shown[column["id"]])
    [second] = (await api.gql(query, {"b": [copy]}))["boards"]
    assert [json.loads(c["settings_str"]) for c in second["columns"]] == list(shown.values())
