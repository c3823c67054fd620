"""Id variables declared `Int`, as monday's v2 pages type ids (`ids: [Int]`, `board_id: Int!`):
they work like `ID` variables where ids go, and stay `Int` everywhere else."""

from __future__ import annotations

from tests.conftest import Api
from tests.v2 import create_board, create_item


async def test_int_list_variables_select_boards_and_items(api: Api) -> None:
    board = await create_board(api, "Int ids")
    item = await create_item(api, board, "first")

    boards = await api.gql(
        "query ($ids: [Int]) { boards(ids: $ids) { id name } }", {"ids": [int(board)]}
    )
    assert boards == {"boards": [{"id": board, "name": "Int ids"}]}
    non_null = await api.gql(
        "query ($ids: [Int!]!) { items(ids: $ids) { id name } }", {"ids": [int(item)]}
    )
    assert non_null == {"items": [{"id": item, "name": "first"}]}
    nested = await api.gql(
        "query ($b: [Int], $i: [Int]) { boards(ids: $b) { items(ids: $i) { id } } }",
        {"b": [int(board)], "i": [int(item)]},
    )
    assert nested == {"boards": [{"items": [{"id": item}]}]}


async def test_int_variables_in_mutations_and_fragments(api: Api) -> None:
    board = await create_board(api, "Int mutations")
    created = await api.gql(
        'mutation ($b: Int!) { create_item(board_id: $b, item_name: "x") { id board { id } } }',
        {"b": int(board)},
    )
    assert created["create_item"]["board"] == {"id": board}
    # a variable used in a fragment is found through it
    listed = await api.gql(
        "query ($i: [Int]) { items(ids: [1]) { id } ...F }"
        " fragment F on Query { boards(ids: $i) { id } }",
        {"i": [int(board)]},
    )
    assert listed["boards"] == [{"id": board}]


async def test_ids_past_32_bits_pass_through_an_int_variable(api: Api) -> None:
    # Int holds 32 bits; monday's ids are larger: read as an ID, the id is simply unknown
    assert await api.gql(
        "query ($ids: [Int]) { boards(ids: $ids) { id } }", {"ids": [9_876_543_210]}
    ) == {"boards": []}


async def test_an_int_variable_is_still_an_int_elsewhere(api: Api) -> None:
    response = await api.post("query ($n: Int) { boards(limit: $n) { id } }", {"n": "3"})
    assert "Int cannot represent" in response.json()["errors"][0]["message"]
    # used for an id and for a limit: not an id variable, so the id position refuses it
    mixed = await api.post("query ($n: Int) { boards(ids: [$n], limit: $n) { id } }", {"n": 1})
    assert "used in position expecting type 'ID'" in mixed.json()["errors"][0]["message"]


async def test_an_int_id_variable_refuses_what_an_id_refuses(api: Api) -> None:
    response = await api.post("query ($ids: [Int]) { boards(ids: $ids) { id } }", {"ids": [1.5]})
    assert "ID cannot represent" in response.json()["errors"][0]["message"]
