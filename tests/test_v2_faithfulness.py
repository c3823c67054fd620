"""monday v2 audit findings: errors that name what the client sent, as the document words it."""

from __future__ import annotations

from tests.conftest import Api
from tests.v2 import change_value, create_column, error_of


async def test_create_item_name_errors_name_the_item_name_argument(api: Api) -> None:
    for name in ("", "x" * 256):
        error = error_of(
            await api.post(
                "mutation($n: String) { create_item(board_id: 100, item_name: $n) { id } }",
                {"n": name},
            )
        )
        assert error["code"] == "BAD_USER_INPUT"
        assert error["message"] == "item_name must be a string of 1 to 255 characters"
        assert list(error["error_data"]) == ["item_name"]


async def test_people_value_errors_name_the_entry_sent_not_a_csv_cell(api: Api) -> None:
    for value, message in (
        ({"personsAndTeams": [{"id": 11, "kind": "person"}, {"id": 999, "kind": "person"}]},
         "No user with id 999 in this account."),
        ({"personsAndTeams": [{"id": 77, "kind": "team"}]}, "No team with id 77 in this account."),
        ({"id": 20}, "No user with id 20 in this account."),  # a user of another account
        ({"team_id": 6}, "No team with id 6 in this account."),
    ):  # fmt: skip
        error = error_of(await change_value(api, "100", "1000", "people", value))
        assert (error["code"], error["error_data"]["reason"]) == (
            "ColumnValueException",
            "PERSON_NOT_FOUND",
        )
        assert error["message"] == message


async def test_phone_errors_give_the_library_reason_once_without_its_code(api: Api) -> None:
    column = await create_column(api, "100", "Phone", "phone")
    error = error_of(
        await api.post(
            """mutation($c: String!) { change_simple_column_value(board_id: 100, item_id: 1000,
                column_id: $c, value: "abc US") { id } }""",
            {"c": column},
        )
    )
    assert error["error_data"]["reason"] == "INVALID_PHONE"
    assert error["message"] == (
        "'abc US' is not a valid phone number: the string supplied did not seem to be a phone"
        " number."
    )


async def test_phone_object_errors_quote_the_number_sent_not_a_csv_cell(api: Api) -> None:
    column = await create_column(api, "100", "Phone", "phone")
    for value, message in (
        ({"phone": "abc", "countryShortName": "US"},
         "'abc' (country US) is not a valid phone number: the string supplied did not seem to"
         " be a phone number."),
        ({"phone": "11231234567", "countryShortName": "XX"},
         "'11231234567' (country XX) is not a valid phone number: 'XX' is not a known country"
         " code."),
    ):  # fmt: skip
        error = error_of(await change_value(api, "100", "1000", column, value))
        assert error["error_data"]["reason"] == "INVALID_PHONE"
        assert error["message"] == message


async def test_a_duplicate_of_a_long_named_group_keeps_names_within_255(api: Api) -> None:
    name = "g" * 255
    data = await api.gql(
        """mutation($n: String!) { create_group(board_id: 100, group_name: $n) { id } }""",
        {"n": name},
    )
    data = await api.gql(
        """mutation($g: String!) { duplicate_group(board_id: 100, group_id: $g) { title } }""",
        {"g": data["create_group"]["id"]},
    )
    assert data["duplicate_group"]["title"] == f"Duplicate of {name}"[:255]
