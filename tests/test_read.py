"""The monday v2 read side on the demo fixture, and account isolation."""

from __future__ import annotations

import json

from tests.conftest import Api


async def test_boards_lists_columns_groups_and_items(api: Api) -> None:
    data = await api.gql(
        """{ boards(ids: [100]) { id name state board_kind
              columns { id title type settings_str archived }
              groups { id title position }
              items(limit: 10) { id name } } }"""
    )
    board = data["boards"][0]
    assert board["id"] == "100"
    assert board["state"] == "active"
    assert board["board_kind"] == "public"
    assert [g["id"] for g in board["groups"]] == ["topics", "closed"]
    status = next(c for c in board["columns"] if c["id"] == "status")
    assert json.loads(status["settings_str"])["labels"] == {
        "0": "Working on it",
        "1": "Done",
        "2": "Stuck",
    }
    assert board["items"] == [{"id": "1000", "name": "Existing lead"}]


async def test_boards_paginates_with_limit_and_page(api: Api) -> None:
    first = await api.gql("{ boards(limit: 1, page: 1) { id } }")
    second = await api.gql("{ boards(limit: 1, page: 2) { id } }")
    assert first["boards"] != second["boards"]
    assert len(first["boards"]) == len(second["boards"]) == 1


async def test_items_by_id_with_column_values(api: Api) -> None:
    data = await api.gql(
        """{ items(ids: [1000]) { id name group { id } board { id } created_at creator_id
              column_values(ids: ["email", "status", "people", "text"]) { id type text value } } }"""
    )
    item = data["items"][0]
    assert item["group"] == {"id": "topics"}
    assert item["board"] == {"id": "100"}
    assert item["creator_id"] == "10"
    values = {v["id"]: v for v in item["column_values"]}
    assert values["status"]["text"] == "Done"
    assert json.loads(values["status"]["value"])["index"] == 1
    assert values["email"]["text"] == "old@acme.example.com"
    assert values["people"]["text"] == "Ada Admin"
    assert json.loads(values["people"]["value"]) == {
        "personsAndTeams": [{"id": 10, "kind": "person"}]
    }
    # an empty column, as monday reads it: no value, an empty text
    assert values["text"]["text"] == "" and values["text"]["value"] is None


async def test_users_teams_and_me(api: Api) -> None:
    data = await api.gql("{ users { id name email } teams { id name users { id } } me { id } }")
    assert {u["id"] for u in data["users"]} == {"10", "11", "12"}
    assert data["teams"] == [{"id": "5", "name": "Ops", "users": [{"id": "10"}, {"id": "11"}]}]
    assert data["me"] == {"id": "10"}
    limited = await api.gql("{ users(limit: 1) { id } }")
    assert len(limited["users"]) == 1


async def test_member_sees_only_boards_it_belongs_to(api: Api) -> None:
    data = await api.gql("{ boards { id } }", token="tok-vera")
    assert [b["id"] for b in data["boards"]] == ["100"]


async def test_user_of_another_account_sees_nothing_of_acme(api: Api) -> None:
    data = await api.gql(
        "{ boards(ids: [100, 200]) { id } items(ids: [1000]) { id } users(ids: [10]) { id } }",
        token="tok-gus",
    )
    assert data == {"boards": [], "items": [], "users": []}
    own = await api.gql("{ boards { id } items(ids: [3000]) { id } }", token="tok-gus")
    assert own == {"boards": [{"id": "300"}], "items": [{"id": "3000"}]}


async def test_acme_admin_cannot_read_globex_items(api: Api) -> None:
    data = await api.gql("{ items(ids: [3000]) { id } boards(ids: [300]) { id } }")
    assert data == {"items": [], "boards": []}
