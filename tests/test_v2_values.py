"""change_column_value, change_multiple_column_values and change_simple_column_value through
HTTP, with the documented examples and errors."""

from __future__ import annotations

import json

from tests.conftest import Api
from tests.v2 import change_value, create_board, create_column, create_item, error_of, values_of


async def test_change_column_value_as_documented(api: Api) -> None:
    data = await api.gql(
        'mutation { change_column_value (board_id: 100, item_id: 1000, column_id: "status", '
        'value: "{\\"index\\": 2}") { id } }'
    )
    assert data["change_column_value"] == {"id": "1000"}
    assert (await values_of(api, "1000"))["status"] == ("Stuck", {"index": 2, "label": "Stuck"})


async def test_change_column_value_with_a_json_variable_as_documented(api: Api) -> None:
    await api.gql(
        """mutation change_column_value($value: JSON!) {
            change_column_value (board_id: 100, item_id: 1000, column_id: "status", value: $value) {
            id } }""",
        {"value": '{"index": 0}'},
    )
    assert (await values_of(api, "1000"))["status"][0] == "Working on it"
    # a variable may also carry the object itself
    await api.gql(
        """mutation($value: JSON!) { change_column_value(board_id: 100, item_id: 1000,
            column_id: "status", value: $value) { id } }""",
        {"value": {"label": "Done"}},
    )
    assert (await values_of(api, "1000"))["status"][0] == "Done"


async def test_change_multiple_column_values_as_documented(api: Api) -> None:
    await api.gql(
        "mutation { change_multiple_column_values (board_id: 100, item_id: 1000, "
        'column_values: "{\\"status\\": {\\"index\\": 2}}") { id } }'
    )
    assert (await values_of(api, "1000"))["status"][0] == "Stuck"
    data = await api.gql(
        """mutation($v: JSON!) { change_multiple_column_values(board_id: 100, item_id: 1000,
            column_values: $v) { name column_values(ids: ["text", "status"]) { id text } } }""",
        {"v": json.dumps({"text": "New text", "status": {"label": "Done"}, "name": "Renamed"})},
    )
    assert data["change_multiple_column_values"] == {
        "name": "Renamed",
        "column_values": [{"id": "text", "text": "New text"}, {"id": "status", "text": "Done"}],
    }


async def test_item_name_column_takes_a_string_of_1_to_255_characters(api: Api) -> None:
    response = await change_value(api, "100", "1000", "name", "My item")
    assert response.json()["data"] == {"change_column_value": {"id": "1000"}}
    data = await api.gql("{ items(ids: [1000]) { name } }")
    assert data["items"] == [{"name": "My item"}]
    for bad in ("", "x" * 256, {"text": "x"}):
        error = error_of(await change_value(api, "100", "1000", "name", bad))
        assert error["code"] == "BAD_USER_INPUT"


async def test_unknown_status_label_gets_the_documented_error(api: Api) -> None:
    response = await change_value(api, "100", "1000", "status", {"label": "Doen"})
    error = error_of(response)
    assert error["code"] == "ColumnValueException"
    assert error["message"] == (
        "This status label doesn't exist, possible statuses are: "
        "{0: Working on it, 1: Done, 2: Stuck}"
    )
    assert error["error_data"] == {
        "column_id": "status", "column_type": "status", "column_value": '{"label":"Doen"}',
        "labels": {"0": "Working on it", "1": "Done", "2": "Stuck"},
    }  # fmt: skip
    assert response.json()["data"] is None
    assert (await values_of(api, "1000"))["status"][0] == "Done"


async def test_a_nul_character_is_refused_and_the_item_stays_readable(api: Api) -> None:
    before = await values_of(api, "1000")
    for column, value in (("text", "a\u0000b"), ("text", "\u0000")):
        error = error_of(await change_value(api, "100", "1000", column, value))
        assert error["code"] == "ColumnValueException"
        assert error["error_data"]["reason"] == "NUL_CHARACTER"
    assert await values_of(api, "1000") == before


async def test_create_labels_if_missing_adds_status_and_dropdown_labels(api: Api) -> None:
    data = await api.gql(
        """mutation($v: JSON!) { change_multiple_column_values(board_id: 100, item_id: 1000,
            column_values: $v, create_labels_if_missing: true) { id } }""",
        {
            "v": json.dumps(
                {"status": {"label": "Blocked"}, "dropdown": {"labels": ["New", "Option A"]}}
            )
        },
    )
    assert data["change_multiple_column_values"] == {"id": "1000"}
    values = await values_of(api, "1000")
    assert values["status"] == ("Blocked", {"index": 3, "label": "Blocked"})
    assert values["dropdown"] == ("New, Option A", {"ids": [4, 1]})
    data = await api.gql('{ boards(ids: [100]) { columns(ids: ["status"]) { settings_str } } }')
    labels = json.loads(data["boards"][0]["columns"][0]["settings_str"])["labels"]
    assert labels == {"0": "Working on it", "1": "Done", "2": "Stuck", "3": "Blocked"}


async def test_invalid_values_are_refused_and_nothing_is_written(api: Api) -> None:
    item = await create_item(api, "100", "Valid", {"email": "a@example.com", "numeric": "1"})
    response = await api.post(
        """mutation($v: JSON!) { change_multiple_column_values(board_id: 100, item_id: $i,
            column_values: $v) { id } }""".replace("$i", item),
        {"v": json.dumps({"numeric": "2", "email": {"email": "nope"}})},
    )
    error = error_of(response)
    assert error["code"] == "ColumnValueException"
    assert error["error_data"]["reason"] == "INVALID_EMAIL"
    assert await values_of(api, item) == {
        "email": ("a@example.com", {"email": "a@example.com", "text": "a@example.com"}),
        "numeric": ("1", "1"),
    }
    error = error_of(await change_value(api, "100", item, "numeric", "three"))
    assert (error["code"], error["error_data"]["reason"]) == (
        "ColumnValueException",
        "INVALID_NUMBER",
    )


async def test_empty_string_or_object_removes_a_value(api: Api) -> None:
    item = await create_item(
        api, "100", "Full",
        {"text": "x", "numeric": 3, "status": {"index": 0}, "date": {"date": "2024-05-01"}},
    )  # fmt: skip
    assert set(await values_of(api, item)) == {"text", "numeric", "status", "date"}
    for column, empty in (("text", ""), ("numeric", ""), ("status", {}), ("date", {})):
        await change_value(api, "100", item, column, empty)
    assert await values_of(api, item) == {}
    data = await api.gql(
        f'{{ items(ids: [{item}]) {{ column_values(ids: ["text"]) {{ text value }} }} }}'
    )
    assert data["items"][0]["column_values"] == [{"text": "", "value": None}]


async def test_change_simple_column_value_takes_the_csv_cell_format(api: Api) -> None:
    data = await api.gql(
        'mutation { change_simple_column_value(board_id: 100, item_id: 1000, column_id: "people", '
        'value: "bob@acme.example.com, team:Ops") { column_values(ids: ["people"]) { text } } }'
    )
    assert data["change_simple_column_value"]["column_values"] == [{"text": "Bob Member, Ops"}]
    await api.gql(
        'mutation { change_simple_column_value(board_id: 100, item_id: 1000, column_id: "date", '
        'value: "March 5, 2025") { id } }'
    )
    assert (await values_of(api, "1000"))["date"] == ("2025-03-05", {"date": "2025-03-05"})


async def test_plain_string_that_is_no_json_is_read_as_a_csv_cell(api: Api) -> None:
    await api.gql(
        'mutation { change_column_value(board_id: 100, item_id: 1000, column_id: "text", '
        'value: "Sample text") { id } }'
    )
    assert (await values_of(api, "1000"))["text"] == ("Sample text", "Sample text")
    response = await api.post(
        "mutation { change_multiple_column_values(board_id: 100, item_id: 1000, "
        'column_values: "[1, 2]") { id } }'
    )
    assert error_of(response)["code"] == "BAD_USER_INPUT"


async def test_long_text_takes_up_to_2000_characters_as_documented(api: Api) -> None:
    board = await create_board(api)
    await create_column(api, board, "Notes", "long_text")
    item = await create_item(api, board, "Item")
    response = await change_value(api, board, item, "long_text", {"text": "x" * 2000})
    assert response.json()["data"] == {"change_column_value": {"id": item}}
    for value in ({"text": "y" * 2001}, "y" * 2001):
        error = error_of(await change_value(api, board, item, "long_text", value))
        assert error["code"] == "ColumnValueException"
        assert error["error_data"]["reason"] == "TOO_LONG"
        assert error["error_data"]["column_id"] == "long_text"
    response = await api.post(
        """mutation($b: ID!, $v: JSON) { create_item(board_id: $b, item_name: "Long",
            column_values: $v) { id } }""",
        {"b": board, "v": json.dumps({"long_text": {"text": "z" * 2001}})},
    )
    assert error_of(response)["code"] == "ColumnValueException"
    assert (await values_of(api, item))["long_text"][0] == "x" * 2000


async def test_invalid_dates_are_refused_with_a_message_naming_what_is_wrong(api: Api) -> None:
    expected = {
        '{"date": "2026-13-01"}': "'2026-13-01' is not a valid date; expected YYYY-MM-DD such"
        " as 2019-06-03.",
        '{"date": "x", "time": "10:00:00"}': "'x' is not a valid date; expected YYYY-MM-DD"
        " such as 2019-06-03.",
        '{"date": "2026-01-01", "time": "25:00"}': "'25:00' is not a valid time; expected"
        " HH:MM:SS (UTC) such as 13:25:00.",
        '{"time": "10:00"}': "Column 'date' (date) needs \"date\" in its value, such as"
        ' {"date": "2019-06-03", "time": "13:25:00"}.',
        '{"date": null, "time": "10:00"}': "Column 'date' (date) needs \"date\" in its value,"
        ' such as {"date": "2019-06-03", "time": "13:25:00"}.',
    }
    for value, message in expected.items():
        error = error_of(await change_value(api, "100", "1000", "date", json.loads(value)))
        assert (error["message"], error["error_data"]["reason"]) == (message, "INVALID_DATE")
        assert "None" not in error["message"]
    # a timeline, a phone, an email and a link without their main field say so the same way
    board = await create_board(api)
    for column_type, value, needs in (
        ("timeline", {"from": "2026-01-01"}, '"to"'),
        ("phone", {"countryShortName": "US"}, '"phone"'),
        ("email", {"text": "me"}, '"email"'),
        ("link", {"text": "go"}, '"url"'),
    ):
        column = await create_column(api, board, column_type.title(), column_type)
        item = await create_item(api, board, column_type)
        error = error_of(await change_value(api, board, item, column, value))
        assert error["message"].startswith(f"Column {column!r} ({column_type}) needs {needs}")
    assert "date" not in await values_of(api, "1000")
