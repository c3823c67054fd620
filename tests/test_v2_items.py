"""monday v2 items, updates, notifications, tags, users and teams through HTTP."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Api
from tests.v2 import (
    change_value,
    create_board,
    create_column,
    create_item,
    error_of,
    values_of,
)


async def test_create_item_as_documented_and_read_it_back(api: Api) -> None:
    data = await api.gql(
        'mutation { create_item (board_id: 100, group_id: "closed", item_name: "new item") '
        "{ id name state group { id } board { id } creator { id } creator_id } }"
    )
    item = data["create_item"]
    assert {k: v for k, v in item.items() if k != "id"} == {
        "name": "new item", "state": "active", "group": {"id": "closed"},
        "board": {"id": "100"}, "creator": {"id": "10"}, "creator_id": "10",
    }  # fmt: skip
    data = await api.gql(f"query {{ items (ids: [1000, {item['id']}, 999999]) {{ name }} }}")
    assert data["items"] == [{"name": "Existing lead"}, {"name": "new item"}]


async def test_create_item_without_group_goes_to_the_first_group(api: Api) -> None:
    data = await api.gql(
        'mutation { create_item (board_id: 100, item_name: "top") { group { id } } }'
    )
    assert data["create_item"]["group"] == {"id": "topics"}
    for query in (
        "mutation { create_item (board_id: 100) { id } }",
        'mutation { create_item (board_id: 100, item_name: "  ") { id } }',
    ):
        assert error_of(await api.post(query))["code"] == "BAD_USER_INPUT"
    response = await api.post(
        'mutation { create_item (board_id: 100, group_id: "nope", item_name: "x") { id } }'
    )
    assert error_of(response)["code"] == "NOT_FOUND"


async def test_create_item_with_column_values_json(api: Api) -> None:
    item = await create_item(
        api, "100", "Lead",
        {"text": "Sample text", "status": {"label": "Stuck"}, "email": {"email": "a@example.com",
         "text": "A"}, "people": {"personsAndTeams": [{"id": 11, "kind": "person"}]}},
    )  # fmt: skip
    assert await values_of(api, item) == {
        "text": ("Sample text", "Sample text"),
        "status": ("Stuck", {"index": 2, "label": "Stuck"}),
        "email": ("a@example.com", {"email": "a@example.com", "text": "A"}),
        "people": ("Bob Member", {"personsAndTeams": [{"id": 11, "kind": "person"}]}),
    }
    data = await api.gql(f"{{ items(ids: [{item}]) {{ column_values_str }} }}")
    assert json.loads(data["items"][0]["column_values_str"])["text"] == "Sample text"


async def test_items_query_with_limit_page_and_newest_first(api: Api) -> None:
    ids = [await create_item(api, "100", f"Item {n}") for n in range(3)]
    data = await api.gql("query { items (limit: 50) { id name board { id } creator { id } } }")
    assert [i["id"] for i in data["items"]] == ["1000", *ids]
    assert data["items"][1] == {
        "id": ids[0], "name": "Item 0", "board": {"id": "100"}, "creator": {"id": "10"}
    }  # fmt: skip
    newest = await api.gql("{ items(limit: 2, newest_first: true) { id } }")
    assert [i["id"] for i in newest["items"]] == [ids[2], ids[1]]
    page = await api.gql("{ items(limit: 2, page: 2) { id } }")
    assert [i["id"] for i in page["items"]] == [ids[1], ids[2]]
    board = await api.gql("{ boards(ids: [100]) { items(limit: 2, newest_first: true) { id } } }")
    assert [i["id"] for i in board["boards"][0]["items"]] == [ids[2], ids[1]]
    group = await api.gql('{ boards(ids: [100]) { groups(ids: ["topics"]) { items { id } } } }')
    assert [i["id"] for i in group["boards"][0]["groups"][0]["items"]] == ["1000", *ids]


async def test_move_item_to_group_as_documented(api: Api) -> None:
    data = await api.gql(
        'mutation { move_item_to_group (item_id: 1000, group_id: "closed") { id group { id } } }'
    )
    assert data["move_item_to_group"] == {"id": "1000", "group": {"id": "closed"}}
    response = await api.post(
        'mutation { move_item_to_group (item_id: 1000, group_id: "nowhere") { id } }'
    )
    assert error_of(response)["code"] == "NOT_FOUND"


async def test_an_archived_group_takes_no_new_or_moved_items(api: Api) -> None:
    board = await create_board(api)
    data = await api.gql(
        f'mutation {{ create_group(board_id: {board}, group_name: "Old") {{ id }} }}'
    )
    old = data["create_group"]["id"]
    item = await create_item(api, board, "Kept", group=old)
    await api.gql(f'mutation {{ archive_group(board_id: {board}, group_id: "{old}") {{ id }} }}')
    for mutation in (
        f'create_item(board_id: {board}, group_id: "{old}", item_name: "New") {{ id }}',
        f'move_item_to_group(item_id: {item}, group_id: "{old}") {{ id }}',
    ):
        response = await api.post(f"mutation {{ {mutation} }}")
        assert error_of(response)["code"] == "BAD_USER_INPUT", mutation
    data = await api.gql(f"{{ boards(ids: {board}) {{ items {{ name }} }} }}")
    assert data["boards"][0]["items"] == []  # the archived group's item stayed archived
    data = await api.gql(f"{{ items(ids: {item}) {{ name state group {{ id }} }} }}")
    assert data["items"] == [{"name": "Kept", "state": "archived", "group": {"id": old}}]


async def test_archive_item_and_delete_item_as_documented(api: Api) -> None:
    other = await create_item(api, "100", "Other")
    data = await api.gql("mutation { archive_item (item_id: 1000) { id state } }")
    assert data["archive_item"] == {"id": "1000", "state": "archived"}
    data = await api.gql(f"mutation {{ delete_item (item_id: {other}) {{ id state }} }}")
    assert data["delete_item"] == {"id": other, "state": "deleted"}
    data = await api.gql(
        f"{{ boards(ids: [100]) {{ items {{ id }} }} items(ids: [1000, {other}]) {{ state }} }}"
    )
    assert data == {
        "boards": [{"items": []}],
        "items": [{"state": "archived"}, {"state": "deleted"}],
    }
    response = await change_value(api, "100", other, "text", "x")
    assert error_of(response)["code"] == "NOT_FOUND"


async def test_activity_logs_record_item_changes(api: Api) -> None:
    item = await create_item(api, "100", "Logged", {"text": "a"})
    await change_value(api, "100", item, "text", "b")
    await change_value(api, "100", item, "text", "b")  # no change, no entry
    await api.gql(
        f'mutation {{ move_item_to_group(item_id: {item}, group_id: "closed") {{ id }} }}'
    )
    await api.gql(f"mutation {{ archive_item(item_id: {item}) {{ id }} }}")
    data = await api.gql("{ boards(ids: [100]) { activity_logs { event user_id entity data } } }")
    logs = data["boards"][0]["activity_logs"]
    assert [log["event"] for log in logs] == [
        "archive_pulse", "move_pulse_into_group", "update_column_value", "create_pulse"
    ]  # fmt: skip
    assert {log["user_id"] for log in logs} == {"10"} and {log["entity"] for log in logs} == {
        "pulse"
    }
    change = json.loads(logs[2]["data"])
    assert change == {**change, "pulse_id": int(item), "column_id": "text", "value": "b",
                      "previous_value": "a", "textual_value": "b"}  # fmt: skip


async def test_items_by_column_values_as_documented(api: Api) -> None:
    due = await create_item(api, "100", "Due", {"date": {"date": "2019-02-06", "time": "10:00:00"}})
    await create_item(api, "100", "Later", {"date": "2019-02-07"})
    data = await api.gql(
        'query { items_by_column_values (board_id: 100, column_id: "date", '
        'column_value: "2019-02-06") { id name column_values_str board { state board_kind } } }'
    )
    [found] = data["items_by_column_values"]
    assert (found["id"], found["name"]) == (due, "Due")
    assert json.loads(found["column_values_str"]) == {
        "date": {"date": "2019-02-06", "time": "10:00:00"}
    }
    assert found["board"] == {"state": "active", "board_kind": "public"}
    by_status = await api.gql(
        '{ items_by_column_values(board_id: 100, column_id: "status", column_value: "Done", '
        'column_type: "status") { id } }'
    )
    assert by_status["items_by_column_values"] == [{"id": "1000"}]
    by_name = await api.gql(
        '{ items_by_column_values(board_id: 100, column_id: "name", column_value: "Later") '
        "{ name } }"
    )
    assert by_name["items_by_column_values"] == [{"name": "Later"}]
    await api.gql(f"mutation {{ archive_item(item_id: {due}) {{ id }} }}")
    query = (
        '{ items_by_column_values(board_id: 100, column_id: "date", column_value: "2019-02-06"'
        "%s) { id } }"
    )
    assert (await api.gql(query % ""))["items_by_column_values"] == []
    assert (await api.gql(query % ", state: all"))["items_by_column_values"] == [{"id": due}]
    hidden = await api.gql(
        '{ items_by_column_values(board_id: 300, column_id: "text", column_value: "top secret") '
        "{ id } }"
    )
    assert hidden["items_by_column_values"] == []


async def test_items_by_column_values_on_a_dropdown_matches_any_one_of_its_labels(
    api: Api,
) -> None:
    board = await create_board(api)
    labels = [{"id": 1, "name": "Acme, Inc"}, {"id": 2, "name": "Beta"}, {"id": 4, "name": "Gamma"}]
    await create_column(api, board, "Client", "dropdown", {"labels": labels})
    acme = await create_item(api, board, "Acme only", {"dropdown": {"ids": [1]}})
    both = await create_item(api, board, "Acme and Beta", {"dropdown": {"ids": [1, 2]}})
    three = await create_item(api, board, "All three", {"dropdown": {"ids": [4, 2, 1]}})
    await create_item(api, board, "None")
    query = """query($b: ID!, $v: String!) {
        items_by_column_values(board_id: $b, column_id: "dropdown", column_value: $v) { id } }"""

    async def found(value: str) -> list[str]:
        data = await api.gql(query, {"b": board, "v": value})
        return [item["id"] for item in data["items_by_column_values"]]

    # one label finds every item holding it, alone or among others, comma in it or not
    assert await found("Acme, Inc") == [acme, both, three]
    assert await found("Beta") == [both, three]
    assert await found("Gamma") == [three]
    # the item's whole text still finds it, as for any other column
    assert await found("Acme, Inc, Beta") == [both]
    # not a label: a piece of one, another case, a label the column does not have
    for value in ("Acme", "beta", "Delta", ""):
        assert await found(value) == [], value


async def test_create_update_as_documented_and_query_updates(api: Api) -> None:
    data = await api.gql(
        'mutation { create_update (item_id: 1000, body: "This update will be added to the item")'
        " { id body item_id creator { id } } }"
    )
    update = data["create_update"]
    assert update["body"] == "This update will be added to the item"
    assert (update["item_id"], update["creator"]) == ("1000", {"id": "10"})
    await api.gql(
        'mutation { create_update (item_id: 1000, body: "Second") { id } }', token="tok-bob"
    )
    data = await api.gql("query { updates (limit: 100) { body id } }")
    assert [u["body"] for u in data["updates"]] == ["Second", update["body"]]
    data = await api.gql("{ items(ids: [1000]) { updates(limit: 1) { body } subscribers { id } } }")
    assert data["items"] == [
        {"updates": [{"body": "Second"}], "subscribers": [{"id": "10"}, {"id": "11"}]}
    ]
    data = await api.gql(f"{{ updates(ids: [{update['id']}]) {{ text_body creator_id }} }}")
    assert data["updates"] == [{"text_body": update["body"], "creator_id": "10"}]
    assert (await api.gql("{ updates { id } }", token="tok-gus"))["updates"] == []
    response = await api.post('mutation { create_update (item_id: 1000, body: " ") { id } }')
    assert error_of(response)["code"] == "BAD_USER_INPUT"


async def outbox(api: Api) -> list[dict[str, Any]]:
    response = await api.admin("GET", "/__admin/outbox")
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_create_notification_as_documented_mails_the_user(api: Api) -> None:
    data = await api.gql(
        'mutation { create_notification (user_id: "11", target_id: "100", '
        'text: "This is a notification", target_type: project) { text } }'
    )
    assert data["create_notification"] == {"text": "This is a notification"}
    [mail] = await outbox(api)
    assert mail["to"] == "bob@acme.example.com"
    assert mail["subject"] == "Ada Admin sent you a notification"
    assert "This is a notification" in mail["body"]
    update = await api.gql('mutation { create_update(item_id: 1000, body: "b") { id } }')
    data = await api.gql(
        'mutation($t: ID!) { create_notification(user_id: 12, target_id: $t, text: "see", '
        "target_type: Post) { id text } }",
        {"t": update["create_update"]["id"]},
    )
    assert data["create_notification"]["text"] == "see"
    on_item = await api.gql(
        'mutation { create_notification(user_id: 12, target_id: 1000, text: "item", '
        "target_type: Project) { text } }"
    )
    assert on_item["create_notification"] == {"text": "item"}
    for user, target in (("20", "100"), ("11", "300"), ("11", "3000"), ("11", "424242")):
        response = await api.post(
            f'mutation {{ create_notification(user_id: {user}, target_id: {target}, text: "x", '
            "target_type: project) { id } }"
        )
        assert error_of(response)["code"] == "NOT_FOUND", (user, target)


async def test_create_or_get_tag_as_documented_returns_one_tag_per_name(api: Api) -> None:
    data = await api.gql('mutation { create_or_get_tag (tag_name: "amazing") { id name color } }')
    tag = data["create_or_get_tag"]
    assert (tag["name"], tag["color"]) == ("amazing", "#579bfc")
    again = await api.gql('mutation { create_or_get_tag (tag_name: "Amazing") { id name } }')
    assert again["create_or_get_tag"] == {"id": tag["id"], "name": "amazing"}
    data = await api.gql(f"query {{ tags (ids: [{tag['id']}, 1, 2]) {{ name }} }}")
    assert data["tags"] == [{"name": "amazing"}]
    assert (await api.gql("query { tags { name color id } }"))["tags"] == [tag]
    assert (await api.gql("{ tags { id } }", token="tok-gus"))["tags"] == []


async def test_private_board_tags_stay_on_their_board(api: Api) -> None:
    board = await create_board(api, "Private", kind="private")
    data = await api.gql(
        f'mutation {{ create_or_get_tag(tag_name: "amazing", board_id: {board}) {{ id }} }}'
    )
    private = data["create_or_get_tag"]["id"]
    public = await api.gql('mutation { create_or_get_tag(tag_name: "amazing") { id } }')
    assert public["create_or_get_tag"]["id"] != private
    assert (await api.gql("{ tags { id } }"))["tags"] == [public["create_or_get_tag"]]
    data = await api.gql(f"query {{ boards(ids: [{board}]) {{ tags {{ id name }} }} }}")
    assert data["boards"][0]["tags"] == [{"id": private, "name": "amazing"}]
    on_public = await api.gql(
        'mutation { create_or_get_tag(tag_name: "amazing", board_id: 100) { id } }'
    )
    assert on_public["create_or_get_tag"] == public["create_or_get_tag"]


async def test_users_by_kind_ids_limit_and_newest_first(api: Api) -> None:
    await api.load_fixture(
        {
            "accounts": [{"id": 1, "name": "Acme", "slug": "acme"}],
            "users": [
                {"id": 13, "account_id": 1, "name": "Gail Guest", "email": "g@x.example.com",
                 "kind": "guest"},
                {"id": 14, "account_id": 1, "name": "Pat Pending", "email": "p@x.example.com",
                 "kind": "pending"},
            ],
        }
    )  # fmt: skip
    data = await api.gql("query { users (kind: non_guests) { id } }")
    assert [u["id"] for u in data["users"]] == ["10", "11", "12", "14"]
    guests = await api.gql("{ users(kind: guests) { id is_guest is_pending } }")
    assert guests["users"] == [{"id": "13", "is_guest": True, "is_pending": False}]
    active = await api.gql("{ users(kind: non_pending) { id } }")
    assert [u["id"] for u in active["users"]] == ["10", "11", "12", "13"]
    newest = await api.gql("{ users(newest_first: true, limit: 2) { id } }")
    assert [u["id"] for u in newest["users"]] == ["14", "13"]
    data = await api.gql(
        "query { users (ids: [11, 12, 20]) { created_at email account { name id } } }"
    )
    assert [u["email"] for u in data["users"]] == ["bob@acme.example.com", "vera@acme.example.com"]
    assert data["users"][0]["account"] == {"name": "Acme", "id": "1"}


async def test_teams_and_me_as_documented(api: Api) -> None:
    data = await api.gql("query { teams (ids: [5, 33, 20595]) { name } }")
    assert data["teams"] == [{"name": "Ops"}]
    data = await api.gql("query { teams { name picture_url users { created_at phone } } }")
    [team] = data["teams"]
    assert (team["name"], team["picture_url"], len(team["users"])) == ("Ops", None, 2)
    data = await api.gql("query { me { is_guest join_date name url teams { id } } }")
    me = data["me"]
    assert (me["is_guest"], me["name"], me["teams"]) == (False, "Ada Admin", [{"id": "5"}])
    assert me["url"] == "https://acme.monday.com/users/10" and len(me["join_date"]) == 10


async def test_items_of_archived_boards_by_id_only_and_of_deleted_boards_never(api: Api) -> None:
    board = await create_board(api, "Closing")
    item = await create_item(api, board, "Kept")
    data = await api.gql(f'mutation {{ create_update(item_id: {item}, body: "Hi") {{ id }} }}')
    update = data["create_update"]["id"]
    lists = (
        f"{{ items(limit: 100) {{ id }} updates(limit: 100) {{ id }} "
        f"by_id: items(ids: [{item}]) {{ id }} update_by_id: updates(ids: [{update}]) {{ id }} "
        f'by_value: items_by_column_values(board_id: {board}, column_id: "name", '
        f'column_value: "Kept") {{ id }} }}'
    )
    shown = await api.gql(lists)
    assert {"id": item} in shown["items"] and {"id": update} in shown["updates"]
    await api.gql(f"mutation {{ archive_board(board_id: {board}) {{ id }} }}")
    # listed like `boards` lists boards: active ones; archived ones are still read by id
    archived = await api.gql(lists)
    assert {"id": item} not in archived["items"] and {"id": update} not in archived["updates"]
    assert archived["by_id"] == archived["by_value"] == [{"id": item}]
    assert archived["update_by_id"] == [{"id": update}]
    await api.gql(f"mutation {{ delete_board(board_id: {board}) {{ id }} }}")
    deleted = await api.gql(lists)
    assert {"id": item} not in deleted["items"] and {"id": update} not in deleted["updates"]
    assert deleted["by_id"] == deleted["by_value"] == deleted["update_by_id"] == []
    # a caller who asks for the deleted board itself still reads what it held
    data = await api.gql(f"{{ boards(ids: [{board}], state: deleted) {{ items {{ id }} }} }}")
    assert data["boards"] == [{"items": [{"id": item}]}]
