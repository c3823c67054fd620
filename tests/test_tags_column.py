"""The tags column type: {"tag_ids"} by mutation, tag names by import, the same stored value."""

from __future__ import annotations

import json

from tests.conftest import Api
from tests.importing import download_report, run_import
from tests.v2 import change_value, create_board, create_column, create_item, error_of, values_of

BOARD = {
    "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
    "boards": [{
        "id": 700, "account_id": 1, "name": "Tagged", "slug": "tagged",
        "members": [{"user_id": 10, "role": "OWNER"}],
        "groups": [{"id": "topics", "title": "Topics"}],
        "columns": [{"id": "tags", "title": "Tags", "type": "tags"}],
    }],
}  # fmt: skip
VALUES = 'query($i: [ID!]) { items(ids: $i) { name column_values(ids: ["tags"]) { text value } } }'


async def test_tags_by_mutation_and_by_import_store_the_same_value(api: Api) -> None:
    await api.load_fixture(BOARD)
    urgent = (await api.gql('mutation { create_or_get_tag(tag_name: "urgent") { id } }'))[
        "create_or_get_tag"
    ]["id"]
    docs = (await api.gql('mutation { create_or_get_tag(tag_name: "docs") { id } }'))[
        "create_or_get_tag"
    ]["id"]
    created = await api.gql(
        'mutation($v: JSON) { create_item(board_id: 700, item_name: "By mutation", column_values: $v) { id } }',
        {"v": json.dumps({"tags": {"tag_ids": [int(urgent), int(docs)]}})},
    )
    status = await run_import(
        api, 'name,tags\nBy import,"urgent, docs"\nBad,nope\n', board_id="700"
    )
    assert status["counts"]["created"] == 1 and status["counts"]["invalid"] == 1
    items = await api.gql("{ boards(ids: [700]) { items { id name } } }")
    ids = [i["id"] for i in items["boards"][0]["items"]]
    values = {
        i["name"]: i["column_values"][0] for i in (await api.gql(VALUES, {"i": ids}))["items"]
    }
    assert created["create_item"]["id"] in ids
    assert values["By mutation"] == values["By import"]
    assert values["By import"]["text"] == "urgent, docs"
    assert json.loads(values["By import"]["value"]) == {"tag_ids": [int(urgent), int(docs)]}


async def tag(api: Api, name: str, board: str | None = None, token: str = "tok-ada") -> int:
    where = f", board_id: {board}" if board else ""
    data = await api.gql(
        f'mutation {{ create_or_get_tag(tag_name: "{name}"{where}) {{ id }} }}', token=token
    )
    return int(data["create_or_get_tag"]["id"])


async def tags_shown(
    api: Api, board: str, items: list[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """The names of board { tags } and of each item's { tags }, by item name."""
    data = await api.gql(
        "query($b: [ID!], $i: [ID!]) { boards(ids: $b) { tags { name } }"
        " items(ids: $i) { name tags { name } } }",
        {"b": [board], "i": items},
    )
    board_tags = sorted(t["name"] for t in data["boards"][0]["tags"])
    return board_tags, {i["name"]: [t["name"] for t in i["tags"]] for i in data["items"]}


async def test_tags_set_through_the_tags_column_show_on_the_board_and_its_items(api: Api) -> None:
    await api.load_fixture(BOARD)
    urgent, docs = [await tag(api, name) for name in ("urgent", "docs")]
    await tag(api, "later")  # the import below finds it by name
    created = await create_item(api, "700", "Created", {"tags": {"tag_ids": [urgent]}})
    changed = await create_item(api, "700", "Changed")
    assert await tags_shown(api, "700", [created, changed]) == (
        ["urgent"], {"Created": ["urgent"], "Changed": []}
    )  # fmt: skip
    response = await change_value(api, "700", changed, "tags", {"tag_ids": [docs, urgent]})
    assert "errors" not in response.json(), response.json()
    status = await run_import(api, 'name,tags\nImported,"later, docs"\n', board_id="700")
    assert status["counts"]["created"] == 1, status
    items = await api.gql("{ boards(ids: [700]) { items { id name } } }")
    ids = {i["name"]: i["id"] for i in items["boards"][0]["items"]}
    assert await tags_shown(api, "700", list(ids.values())) == (
        ["docs", "later", "urgent"],
        {"Created": ["urgent"], "Changed": ["docs", "urgent"], "Imported": ["docs", "later"]},
    )
    # a cleared value takes its tags along; an archived item's tags are no longer the board's
    await api.gql(
        "mutation($i: ID, $v: JSON!) { change_multiple_column_values(board_id: 700, item_id: $i,"
        " column_values: $v) { id } }",
        {"i": ids["Changed"], "v": json.dumps({"tags": {}})},
    )
    await api.gql(f"mutation {{ archive_item(item_id: {ids['Imported']}) {{ id }} }}")
    assert await tags_shown(api, "700", list(ids.values())) == (
        ["urgent"], {"Created": ["urgent"], "Changed": [], "Imported": ["docs", "later"]}
    )  # fmt: skip


async def test_a_value_may_not_hold_another_boards_private_tag_or_another_accounts_tag(
    api: Api,
) -> None:
    await api.load_fixture(BOARD)
    private = await create_board(api, "Private", kind="private")
    theirs = await tag(api, "secret", board=private)
    globex = await tag(api, "globex", token="tok-gus")
    item = await create_item(api, "700", "Item")
    unknown = error_of(await change_value(api, "700", item, "tags", {"tag_ids": [99999999]}))
    assert unknown["code"] == "ColumnValueException"
    assert unknown["error_data"]["reason"] == "TAG_NOT_FOUND"
    for refused in (theirs, globex):
        error = error_of(await change_value(api, "700", item, "tags", {"tag_ids": [refused]}))
        # refused as an id that does not exist: the same code, reason and message
        assert error["message"] == unknown["message"].replace("99999999", str(refused))
        assert error["code"] == unknown["code"]
        assert error["error_data"] == {
            **unknown["error_data"],
            "column_value": json.dumps({"tag_ids": [refused]}, separators=(",", ":")),
        }
    response = await api.post(
        'mutation($v: JSON) { create_item(board_id: 700, item_name: "New", column_values: $v)'
        " { id } }",
        {"v": json.dumps({"tags": {"tag_ids": [theirs]}})},
    )
    assert error_of(response)["error_data"]["reason"] == "TAG_NOT_FOUND"
    assert await values_of(api, item) == {}
    # by name, an import sees the account-wide tags and the board's own, not another board's
    status = await run_import(api, "name,tags\nSecret,secret\nGlobex,globex\n", board_id="700")
    assert status["counts"]["invalid"] == 2, status
    assert {row["__errors"].split(": ")[1] for row in await download_report(status)} == {
        "TAG_NOT_FOUND"
    }


async def test_a_private_board_uses_its_own_tags_before_account_wide_ones(api: Api) -> None:
    private = await create_board(api, "Private", kind="private")
    await create_column(api, private, "Tags", "tags", id="tags")
    # the board's own tag first: a lookup where the newer tag of a name wins would miss it
    own = await tag(api, "urgent", board=private)
    public = await tag(api, "urgent")
    assert own != public
    status = await run_import(api, "name,tags\nImported,Urgent\n", board_id=private)
    assert status["counts"]["created"] == 1, status
    item = await create_item(api, private, "Created", {"tags": {"tag_ids": [own]}})
    data = await api.gql(
        "query($b: [ID!]) { boards(ids: $b) { tags { id } items { name tags { id } } } }",
        {"b": [private]},
    )
    [board] = data["boards"]
    assert board["tags"] == [{"id": str(own)}]
    assert {i["name"]: i["tags"] for i in board["items"]} == {
        "Imported": [{"id": str(own)}], "Created": [{"id": str(own)}]
    }  # fmt: skip
    assert (await values_of(api, item))["tags"] == ("urgent", {"tag_ids": [own]})


async def test_a_tag_written_by_id_stays_that_tag_when_another_shares_its_name(api: Api) -> None:
    private = await create_board(api, "Private", kind="private")
    await create_column(api, private, "Tags", "tags", id="tags")
    own = await tag(api, "urgent", board=private)
    public = await tag(api, "urgent")
    item = await create_item(api, private, "By id", {"tags": {"tag_ids": [public, public]}})
    assert (await values_of(api, item))["tags"] == ("urgent", {"tag_ids": [public]})
    item = await create_item(api, private, "Both", {"tags": {"tag_ids": [own, public]}})
    assert (await values_of(api, item))["tags"] == ("urgent, urgent", {"tag_ids": [own, public]})
