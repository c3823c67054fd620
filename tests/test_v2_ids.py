"""Ids of the monday v2 API as clients write them: ASCII digits within PostgreSQL's bigint;
anything else (unicode digits, numbers too large to be stored) is an id that does not exist,
and list arguments take null elements, as the document types them ([Int], [String])."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Api
from tests.v2 import change_value, create_board, create_column, create_item, error_of

UNKNOWN = "999999"  # an id no fixture uses
# one past the largest bigint, far past it, a superscript two and Arabic-Indic twelve
# (str.isdigit takes both; int() refuses the first and reads the second as 12)
BAD_IDS = [
    pytest.param("9223372036854775808", id="bigint-max-plus-1"),
    pytest.param("99999999999999999999", id="20-digits"),
    pytest.param("\u00b2", id="superscript-2"),
    pytest.param("\u0661\u0662", id="arabic-indic-12"),
    pytest.param("9" * 5000, id="5000-digits"),  # more than int() reads
]

LISTS = [
    "{ boards(ids: [<id>]) { id } }",
    "{ items(ids: [<id>]) { id } }",
    "{ updates(ids: [<id>]) { id } }",
    "{ tags(ids: [<id>]) { id } }",
    "{ users(ids: [<id>]) { id } }",
    "{ teams(ids: [<id>]) { id } }",
    "{ boards(ids: [100]) { items(ids: [<id>]) { id } groups { items(ids: [<id>]) { id } } } }",
    '{ items_by_column_values(board_id: <id>, column_id: "name", column_value: "x") { id } }',
]
MUTATIONS = [
    'mutation { create_item(board_id: <id>, item_name: "x") { id } }',
    'mutation { create_column(board_id: <id>, title: "T", column_type: text) { id } }',
    'mutation { create_group(board_id: <id>, group_name: "G") { id } }',
    'mutation { archive_group(board_id: <id>, group_id: "closed") { id } }',
    "mutation { archive_board(board_id: <id>) { id } }",
    'mutation { change_column_value(board_id: 100, item_id: <id>, column_id: "text", '
    'value: "\\"y\\"") { id } }',
    'mutation { change_simple_column_value(board_id: <id>, item_id: 1000, column_id: "text", '
    'value: "y") { id } }',
    'mutation { move_item_to_group(item_id: <id>, group_id: "closed") { id } }',
    "mutation { delete_item(item_id: <id>) { id } }",
    'mutation { create_update(item_id: <id>, body: "hi") { id } }',
    'mutation { create_notification(user_id: <id>, target_id: 100, text: "t", '
    "target_type: project) { text } }",
    'mutation { create_notification(user_id: 11, target_id: <id>, text: "t", '
    "target_type: Post) { text } }",
    'mutation { create_or_get_tag(tag_name: "t", board_id: <id>) { id } }',
]


def _literal(value: str) -> str:
    return json.dumps(value)  # a GraphQL string literal is a JSON string


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_ids_in_queries_match_nothing_like_unknown_ids(api: Api, bad: str) -> None:
    for selection in LISTS:
        unknown = await api.gql(selection.replace("<id>", UNKNOWN))
        given = await api.gql(selection.replace("<id>", _literal(bad)))
        assert given == unknown, selection
    # the largest bigint is an id like any other: no such item, no error
    assert await api.gql("{ items(ids: [9223372036854775807]) { id } }") == {"items": []}


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_ids_in_mutations_are_not_found_like_unknown_ids(api: Api, bad: str) -> None:
    for selection in MUTATIONS:
        unknown = error_of(await api.post(selection.replace("<id>", UNKNOWN)))
        given = error_of(await api.post(selection.replace("<id>", _literal(bad))))
        assert given["code"] == unknown["code"] == "NOT_FOUND", selection
        # a message repeats at most 100 characters of what it refuses (errors.clip)
        shown = bad if len(bad) <= 100 else bad[:100] + "..."
        assert given["message"] == unknown["message"].replace(UNKNOWN, shown), selection


async def test_a_board_relation_to_a_board_id_too_large_is_an_unknown_board(api: Api) -> None:
    board = await create_board(api)
    for linked in ([int(UNKNOWN)], ["99999999999999999999"]):
        response = await api.post(
            """mutation($b: ID!, $d: JSON) { create_column(board_id: $b, title: "Link",
                column_type: board_relation, defaults: $d) { id } }""",
            {"b": board, "d": json.dumps({"boardIds": linked})},
        )
        error = error_of(response)
        assert (error["code"], error["message"]) == ("NOT_FOUND", f"Board {linked[0]} not found")


async def test_unicode_digits_in_column_values_are_refused_as_values(api: Api) -> None:
    board = await create_board(api)
    await create_column(api, board, "Status", "status")
    await create_column(api, board, "Tags", "tags")
    await create_column(api, board, "Owner", "people")
    item = await create_item(api, board, "Item")
    for column, value, reason in (
        ("status", {"index": "\u00b2"}, None),
        ("tags", {"tag_ids": ["\u00b2"]}, "INVALID_TAG"),
        (
            "people",
            {"personsAndTeams": [{"id": "\u0661\u0662", "kind": "person"}]},
            "INVALID_PERSON",
        ),
    ):
        error = error_of(await change_value(api, board, item, column, value))
        assert error["code"] == "ColumnValueException", (column, error)
        assert error["error_data"].get("reason") == reason, (column, error)
    # a person id too large for any user is one that does not exist
    unknown = error_of(
        await change_value(api, board, item, "people", {"id": int(UNKNOWN), "kind": "person"})
    )
    huge = error_of(await change_value(api, board, item, "people", {"id": "99999999999999999999"}))
    assert huge["error_data"]["reason"] == unknown["error_data"]["reason"] == "PERSON_NOT_FOUND"


async def test_list_arguments_take_variables_typed_as_documented(api: Api) -> None:
    data = await api.gql(
        """query($b: [ID], $i: [ID], $g: [String], $c: [String], $u: [ID], $t: [ID]) {
            boards(ids: $b) { id groups(ids: $g) { id } columns(ids: $c) { id }
                              items(ids: $i) { id column_values(ids: $c) { id } } }
            items(ids: $i) { id } users(ids: $u) { id } teams(ids: $t) { id }
            updates(ids: $u) { id } tags(ids: $t) { id } }""",
        {
            "b": ["100", None], "i": [None, "1000"], "g": ["topics", None],
            "c": [None, "text"], "u": [None, "10"], "t": [None, "5"],
        },
    )  # fmt: skip
    assert data["boards"] == [
        {
            "id": "100", "groups": [{"id": "topics"}], "columns": [{"id": "text"}],
            "items": [{"id": "1000", "column_values": [{"id": "text"}]}],
        }
    ]  # fmt: skip
    assert data["items"] == [{"id": "1000"}]
    assert (data["users"], data["teams"]) == ([{"id": "10"}], [{"id": "5"}])
    # null elements are ignored: a list of nulls names nothing, as an empty list does
    nothing = await api.gql("query($b: [ID]) { boards(ids: $b) { id } }", {"b": [None]})
    assert nothing == await api.gql("{ boards(ids: []) { id } }")
