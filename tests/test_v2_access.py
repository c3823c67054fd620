"""Access levels and account isolation of the monday v2 mutations and queries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.v2 import change_value, create_item, error_of, values_of

# Board 450: one member per access level (Ada is account admin, Bob owns it)
ROLES: dict[str, Any] = {
    "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
    "users": [
        {"id": 13, "account_id": 1, "name": "Cora Comment", "email": "cora@acme.example.com",
         "token": "tok-cora"},
        {"id": 14, "account_id": 1, "name": "Cliff Client", "email": "cliff@acme.example.com",
         "token": "tok-cliff"},
        {"id": 15, "account_id": 1, "name": "Nina Nobody", "email": "nina@acme.example.com",
         "token": "tok-nina"},
    ],
    "boards": [{
        "id": 450, "account_id": 1, "name": "Roles",
        "members": [{"user_id": 11, "role": "OWNER"}, {"user_id": 12, "role": "VIEW_ONLY"},
                    {"user_id": 13, "role": "COMMENT_ONLY"}, {"user_id": 14, "role": "CLIENT"}],
        "groups": [{"id": "topics", "title": "Topics"}, {"id": "done", "title": "Done"}],
        "columns": [{"id": "text", "title": "Notes", "type": "text"}],
        "items": [{"id": 4500, "name": "Shared", "values": {"text": "hello"}}],
    }],
}  # fmt: skip

ITEM_WRITES = [
    'mutation { create_item(board_id: 450, item_name: "x") { id } }',
    'mutation { change_column_value(board_id: 450, item_id: 4500, column_id: "text", '
    'value: "\\"y\\"") { id } }',
    'mutation { change_simple_column_value(board_id: 450, item_id: 4500, column_id: "text", '
    'value: "y") { id } }',
    "mutation { change_multiple_column_values(board_id: 450, item_id: 4500, "
    'column_values: "{\\"text\\": \\"y\\"}") { id } }',
    'mutation { move_item_to_group(item_id: 4500, group_id: "done") { id } }',
    "mutation { archive_item(item_id: 4500) { id } }",
    "mutation { delete_item(item_id: 4500) { id } }",
]
BOARD_WRITES = [
    'mutation { create_column(board_id: 450, title: "T", column_type: text) { id } }',
    'mutation { create_group(board_id: 450, group_name: "G") { id } }',
    'mutation { duplicate_group(board_id: 450, group_id: "topics") { id } }',
    'mutation { archive_group(board_id: 450, group_id: "done") { id } }',
    'mutation { delete_group(board_id: 450, group_id: "done") { id } }',
]
UPDATE = 'mutation { create_update(item_id: 4500, body: "hi") { id } }'


@pytest.fixture
async def roles(api: Api) -> Api:
    await api.load_fixture(ROLES)
    return api


@pytest.mark.parametrize("query", [*ITEM_WRITES, *BOARD_WRITES, UPDATE])
async def test_view_only_members_can_write_nothing(roles: Api, query: str) -> None:
    error = error_of(await roles.post(query, token="tok-vera"))
    assert error["code"] == "USER_UNAUTHORIZED"
    assert error["status_code"] == 403
    assert error["message"].startswith("User unauthorized to perform action")


@pytest.mark.parametrize("query", [*ITEM_WRITES, *BOARD_WRITES])
async def test_comment_only_members_can_only_add_updates(roles: Api, query: str) -> None:
    assert error_of(await roles.post(query, token="tok-cora"))["code"] == "USER_UNAUTHORIZED"


async def test_comment_only_members_add_updates_and_read(roles: Api) -> None:
    data = await roles.gql(UPDATE, token="tok-cora")
    assert data["create_update"]["id"]
    data = await roles.gql("{ items(ids: [4500]) { updates { body } } }", token="tok-cora")
    assert data["items"] == [{"updates": [{"body": "hi"}]}]


@pytest.mark.parametrize("query", ITEM_WRITES)
async def test_clients_write_items_as_they_may_import_them(roles: Api, query: str) -> None:
    await roles.gql(query, token="tok-cliff")


@pytest.mark.parametrize("query", BOARD_WRITES)
async def test_clients_do_not_shape_the_board(roles: Api, query: str) -> None:
    assert error_of(await roles.post(query, token="tok-cliff"))["code"] == "USER_UNAUTHORIZED"


@pytest.mark.parametrize("token", ["tok-bob", "tok-ada"])
@pytest.mark.parametrize("query", [*ITEM_WRITES, *BOARD_WRITES, UPDATE])
async def test_members_and_account_admins_write(roles: Api, token: str, query: str) -> None:
    await roles.gql(query, token=token)


async def test_members_read_what_they_may_not_change(roles: Api) -> None:
    data = await roles.gql(
        "{ boards(ids: [450]) { items { name column_values { text } } } }", token="tok-vera"
    )
    assert data["boards"] == [{"items": [{"name": "Shared", "column_values": [{"text": "hello"}]}]}]


@pytest.mark.parametrize("query", [*ITEM_WRITES, *BOARD_WRITES, UPDATE])
async def test_non_members_find_nothing_to_change(roles: Api, query: str) -> None:
    error = error_of(await roles.post(query, token="tok-nina"))
    assert error["code"] == "NOT_FOUND"
    data = await roles.gql(
        "{ boards(ids: [450]) { id } items(ids: [4500]) { id } updates { id } }", token="tok-nina"
    )
    assert data == {"boards": [], "items": [], "updates": []}


def _foreign(query: str, board: str, item: str) -> str:
    return query.replace("450", board).replace("4500", item)


@pytest.mark.parametrize("query", [*ITEM_WRITES, *BOARD_WRITES, UPDATE])
async def test_another_accounts_ids_behave_as_unknown_ids(api: Api, query: str) -> None:
    """Gus (Globex admin) gets for Acme's board 100 and item 1000 exactly what ids that do
    not exist give him."""
    before = await values_of(api, "1000")
    foreign = error_of(await api.post(_foreign(query, "100", "1000"), token="tok-gus"))
    unknown = error_of(await api.post(_foreign(query, "999999", "999998"), token="tok-gus"))
    assert foreign["code"] == unknown["code"] == "NOT_FOUND"
    expected = unknown["message"].replace("999999", "100").replace("999998", "1000")
    assert foreign["message"] == expected
    assert await values_of(api, "1000") == before


async def test_a_value_on_another_board_is_not_found(api: Api) -> None:
    response = await change_value(api, "200", "1000", "text", "x")
    assert error_of(response)["code"] == "NOT_FOUND"
    item = await create_item(api, "100", "Here")
    response = await change_value(api, "100", item, "nope", "x")
    error = error_of(response)
    assert (error["code"], error["error_data"]) == ("NOT_FOUND", {"column_id": "nope"})
