"""The tags column type: {"tag_ids"} by mutation, tag names by import, the same stored value."""

from __future__ import annotations

import json

from tests.conftest import Api
from tests.importing import run_import

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
