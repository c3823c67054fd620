"""Arguments of the monday v2 API at their edges: limits below one or over 500, and text
PostgreSQL cannot hold (a NUL character, a lone UTF-16 surrogate, both valid in JSON strings)
answered as the client's mistake or as a value that matches nothing, never as an internal error."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Api
from tests.v2 import create_item, error_of, post_escaped

LIMITED_LISTS = [
    "{ boards(limit: <n>) { id } }",
    "{ items(limit: <n>) { id } }",
    "{ updates(limit: <n>) { id } }",
    "{ users(limit: <n>) { id } }",
    "{ boards(ids: 100) { items(limit: <n>) { id } } }",
    "{ boards(ids: 100) { groups { items(limit: <n>) { id } } } }",
    "{ boards(ids: 100) { updates(limit: <n>) { id } } }",
    "{ boards(ids: 100) { activity_logs(limit: <n>) { id } } }",
    "{ items(ids: 1000) { updates(limit: <n>) { id } } }",
    '{ items_by_column_values(board_id: 100, column_id: "name", column_value: "Existing lead", '
    "limit: <n>) { id } }",
]


@pytest.mark.parametrize("limit", ["0", "-1"])
@pytest.mark.parametrize("query", LIMITED_LISTS)
async def test_a_limit_below_one_is_bad_user_input(api: Api, query: str, limit: str) -> None:
    # limit: 0 read as "no limit" gave 25 boards (or every user) for a complexity of 1
    error = error_of(await api.post(query.replace("<n>", limit)))
    assert error["code"] == "BAD_USER_INPUT"
    assert error["error_data"] == {"limit": int(limit)}
    assert error["message"] == "limit must be at least 1"


# the users list has no page and no maximum: every user up to its limit
PAGED_LISTS = [query for query in LIMITED_LISTS if "users" not in query]


@pytest.mark.parametrize("query", PAGED_LISTS)
async def test_a_limit_over_500_is_bad_user_input_not_a_short_page(api: Api, query: str) -> None:
    # capped to 500, limit: 1000 gave a page shorter than asked, which a client reads as the
    # last one: every row after the 500th was missed
    response = await api.post(query.replace("<n>", "1000"))
    error = error_of(response)
    assert error["code"] == "BAD_USER_INPUT"
    assert error["error_data"] == {"limit": 1000}
    assert error["message"] == "limit must be at most 500"
    assert response.json()["data"] is None
    assert "errors" not in (await api.post(query.replace("<n>", "500"))).json()


async def test_a_limit_of_zero_cannot_buy_a_page_of_items_at_the_price_of_one(api: Api) -> None:
    for n in range(3):
        await create_item(api, "100", f"Row {n}")
    query = "{ complexity { query } boards(limit: <n>) { items(limit: <n>) { id } } }"
    response = await api.post(query.replace("<n>", "0"))
    assert error_of(response)["code"] == "BAD_USER_INPUT"
    assert response.json()["data"] is None
    one = await api.gql(query.replace("<n>", "1"))
    assert one == {"complexity": {"query": 1}, "boards": [{"items": [{"id": "1000"}]}]}


UNSTORABLE = [
    pytest.param("a\u0000b", id="nul"),
    pytest.param("\ud800", id="lone-surrogate"),
]


@pytest.mark.parametrize("text", UNSTORABLE)
async def test_items_by_column_values_with_unstorable_text_matches_nothing(
    api: Api, text: str
) -> None:
    query = """query($c: String!, $v: String!) {
        items_by_column_values(board_id: 100, column_id: $c, column_value: $v) { id } }"""
    for column, value in ((text, "Done"), ("status", text), ("name", text)):
        response = await post_escaped(api, query, {"c": column, "v": value})
        assert response.json() == {"data": {"items_by_column_values": []}}


NAMED_MUTATIONS = [
    ("create_board(board_name: $t, board_kind: public) { id }", "board_name"),
    ('create_board(board_name: "B", board_kind: public, description: $t) { id }', "description"),
    ("create_group(board_id: 100, group_name: $t) { id }", "group_name"),
    ('duplicate_group(board_id: 100, group_id: "topics", group_title: $t) { id }', "group_title"),
    ("create_column(board_id: 100, title: $t, column_type: text) { id }", "title"),
    ("create_item(board_id: 100, item_name: $t) { id }", "item_name"),
    ("create_or_get_tag(tag_name: $t) { id }", "tag_name"),
    ("create_update(item_id: 1000, body: $t) { id }", "body"),
    (
        "create_notification(user_id: 11, target_id: 1000, text: $t, target_type: project) "
        "{ text }",
        "text",
    ),
]


@pytest.mark.parametrize("text", UNSTORABLE)
@pytest.mark.parametrize(("mutation", "argument"), NAMED_MUTATIONS)
async def test_names_and_texts_that_cannot_be_stored_are_bad_user_input(
    api: Api, mutation: str, argument: str, text: str
) -> None:
    # $t is declared as the argument's type: String! where the document requires it
    required = argument in ("board_name", "group_name", "title", "body", "text")
    declared = "String!" if required else "String"
    response = await post_escaped(api, f"mutation($t: {declared}) {{ {mutation} }}", {"t": text})
    error = error_of(response)
    assert error["code"] == "BAD_USER_INPUT", error
    assert error["message"] == (f"{argument} must not contain a NUL character or a lone surrogate")
    assert error["error_data"] == {argument: None}


async def test_an_item_renamed_through_the_name_column_to_unstorable_text_is_refused(
    api: Api,
) -> None:
    # (a JSON text holding \\ud800 is no JSON to orjson: it is read as a plain CSV cell)
    for text in ("a\u0000b", "\u0000"):
        response = await post_escaped(
            api,
            """mutation($v: JSON!) { change_column_value(board_id: 100, item_id: 1000,
                column_id: "name", value: $v) { id } }""",
            {"v": json.dumps(text)},
        )
        assert error_of(response)["code"] == "BAD_USER_INPUT"
    data = await api.gql("{ items(ids: 1000) { name } }")
    assert data == {"items": [{"name": "Existing lead"}]}


GROUP_MUTATIONS = [
    "duplicate_group(board_id: 100, group_id: $g) { id }",
    "archive_group(board_id: 100, group_id: $g) { id }",
    "delete_group(board_id: 100, group_id: $g) { id }",
    'create_item(board_id: 100, group_id: $g, item_name: "x") { id }',
    "move_item_to_group(item_id: 1000, group_id: $g) { id }",
]


@pytest.mark.parametrize("text", UNSTORABLE)
@pytest.mark.parametrize("mutation", GROUP_MUTATIONS)
async def test_a_group_id_that_cannot_be_stored_is_an_unknown_group(
    api: Api, mutation: str, text: str
) -> None:
    response = await post_escaped(api, f"mutation($g: String!) {{ {mutation} }}", {"g": text})
    error = error_of(response)
    assert error["code"] == "NOT_FOUND", error
    assert error["error_data"] == {"group_id": text}


JSON_MUTATIONS = [
    (
        'create_notification(user_id: 11, target_id: 1000, text: "t", target_type: project, '
        "payload: $j) { text }",
        "payload",
    ),
    (
        'create_column(board_id: 100, title: "S", column_type: status, defaults: $j) { id }',
        "defaults",
    ),
]


@pytest.mark.parametrize("text", UNSTORABLE)
@pytest.mark.parametrize(("mutation", "argument"), JSON_MUTATIONS)
async def test_json_arguments_holding_unstorable_text_are_bad_user_input(
    api: Api, mutation: str, argument: str, text: str
) -> None:
    # as a JSON object in the variables, a key or a string anywhere in it
    for value in ({"labels": {"0": text}}, {text: 1}, {"labels": [["ok", text]]}):
        response = await post_escaped(api, f"mutation($j: JSON) {{ {mutation} }}", {"j": value})
        error = error_of(response)
        assert error["code"] == "BAD_USER_INPUT", error
        assert error["error_data"] == {argument: None}
    columns = await api.gql("{ boards(ids: 100) { columns { title } } }")
    assert "S" not in [c["title"] for c in columns["boards"][0]["columns"]]
