"""The "Column type validation" table of monday's bulk import, one column type at a time.

Every test imports a file through the three documented steps, then reads what was stored back
with `items(ids) { column_values { id text value } }`, and reads the invalid rows' reasons from
the job's report.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.importing import csv_text, report_by_name, run_import, stored_values

BOARD = "400"
OWNERS = [{"user_id": 10, "role": "OWNER"}, {"user_id": 11, "role": "MEMBER"}]

FIXTURE: dict[str, Any] = {
    "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
    "users": [
        {"id": 13, "account_id": 1, "name": "Sam Same", "email": "sam1@acme.example.com"},
        {"id": 14, "account_id": 1, "name": "Sam Same", "email": "sam2@acme.example.com"},
        {
            "id": 15,
            "account_id": 1,
            "name": "Olga Old",
            "email": "olga@acme.example.com",
            "enabled": False,
        },
        {"id": 17, "account_id": 1, "name": "Ops", "email": "ops@acme.example.com"},
    ],
    "teams": [{"id": 6, "account_id": 1, "name": "Design", "user_ids": [11]}],
    "boards": [
        {
            "id": 500,
            "account_id": 1,
            "name": "Clients",
            "members": OWNERS,
            "items": [
                {"id": 5001, "name": "Acme, Inc"},
                {"id": 5002, "name": "Globex"},
                {"id": 5003, "name": "Twin"},
                {"id": 5004, "name": "Twin"},
            ],
        },
        {
            "id": 501,
            "account_id": 1,
            "name": "Vendors",
            "members": OWNERS,
            "items": [{"id": 5101, "name": "Initech"}, {"id": 5102, "name": "Globex"}],
        },
        {
            "id": 502,
            "account_id": 1,
            "name": "Parts",
            "members": OWNERS,
            "items": [{"id": 6000 + n, "name": f"Part {n}"} for n in range(51)],
        },
        {
            "id": 400,
            "account_id": 1,
            "name": "Everything",
            "members": OWNERS,
            "groups": [{"id": "topics", "title": "Topics"}],
            "columns": [
                {"id": "text", "type": "text"},
                {"id": "notes", "type": "long_text"},
                {"id": "num", "type": "numbers"},
                {"id": "price", "type": "currency", "settings": {"currency": "USD"}},
                {
                    "id": "stage",
                    "type": "status",
                    "settings": {
                        "labels": [
                            "Working on it",
                            "Done",
                            {"label": "Retired", "active": False},
                            "Stuck",
                        ]
                    },
                },
                {
                    "id": "tags",
                    "type": "dropdown",
                    "settings": {
                        "labels": [
                            "Option A",
                            "Option B",
                            {"label": "Legacy", "active": False},
                            "Red, dark",
                        ]
                    },
                },
                {"id": "due", "type": "date"},
                {"id": "span", "type": "timeline"},
                {"id": "owner", "type": "people"},
                {"id": "pair", "type": "people", "settings": {"max_people_allowed": 2}},
                {"id": "phone", "type": "phone"},
                {"id": "mail", "type": "email"},
                {"id": "site", "type": "link"},
                {"id": "client", "type": "board_relation", "settings": {"board_ids": [500]}},
                {"id": "partner", "type": "board_relation", "settings": {"board_ids": [500, 501]}},
                {"id": "parts", "type": "board_relation", "settings": {"board_ids": [502]}},
                {"id": "done", "type": "checkbox"},
            ],
        },
    ],
}
COLUMN_IDS = [c["id"] for c in FIXTURE["boards"][-1]["columns"]]


@pytest.fixture
async def board(api: Api) -> Api:
    await api.load_fixture(FIXTURE)
    return api


async def import_rows(
    api: Api, column: str, rows: list[tuple[str, str]], *, board_id: str = BOARD
) -> tuple[dict[str, Any], dict[str, dict[str, tuple[str, Any]]]]:
    """Import `name,<column>` rows; return the final job status and the stored values."""
    body = csv_text(["name", column], [[name, cell] for name, cell in rows])
    status = await run_import(api, body, board_id=board_id)
    assert status["status"] == "COMPLETED", status
    return status, await stored_values(api, board_id)


async def assert_invalid(
    status: dict[str, Any], stored: dict[str, Any], column: str, expected: dict[str, str]
) -> None:
    """Each named row is invalid with that code on that column, and was not created."""
    assert status["counts"]["invalid"] == len(expected), status
    assert status["fully_imported"] is False
    report = await report_by_name(status)
    assert set(report) == set(expected)
    for name, code in expected.items():
        row = report[name]
        assert row["__status"] == "invalid", row
        assert row["__errors"].startswith(f"{column}: {code}: "), row
        assert name not in stored


async def test_text_and_long_text_are_stored_as_written(board: Api) -> None:
    body = csv_text(
        ["name", "text", "notes"],
        [["Plain", "Hello, world", 'First line\nsecond "line"'], ["Padded", "  trimmed  ", ""]],
    )
    status = await run_import(board, body, board_id=BOARD)
    assert status["counts"]["created"] == 2 and status["fully_imported"], status
    stored = await stored_values(board, BOARD)
    assert stored["Plain"] == {
        "text": ("Hello, world", "Hello, world"),
        "notes": ('First line\nsecond "line"', {"text": 'First line\nsecond "line"'}),
    }
    assert stored["Padded"] == {"text": ("trimmed", "trimmed")}


async def test_numbers_take_integers_and_decimals_and_refuse_other_text(board: Api) -> None:
    status, stored = await import_rows(
        board, "num",
        [("Int", "42"), ("Negative", "-1.50"), ("Plus", "+7"), ("Zero", "0.0"),
         ("Thousands", "1,000"), ("Word", "lots"), ("Unit", "12kg")],
    )  # fmt: skip
    assert stored["Int"]["num"] == ("42", "42")
    assert stored["Negative"]["num"] == ("-1.5", "-1.5")
    assert stored["Plus"]["num"] == ("7", "7")
    assert stored["Zero"]["num"] == ("0", "0")
    await assert_invalid(
        status, stored, "num",
        {"Thousands": "INVALID_NUMBER", "Word": "INVALID_NUMBER", "Unit": "INVALID_NUMBER"},
    )  # fmt: skip


async def test_currency_takes_a_plain_number(board: Api) -> None:
    status, stored = await import_rows(
        board, "price", [("Cheap", "1234.50"), ("Symbol", "$12"), ("Text", "free")]
    )
    assert stored["Cheap"]["price"] == ("1234.5", "1234.5")
    await assert_invalid(
        status, stored, "price", {"Symbol": "INVALID_NUMBER", "Text": "INVALID_NUMBER"}
    )


async def test_status_label_must_exist_match_case_and_be_active(board: Api) -> None:
    status, stored = await import_rows(
        board, "stage",
        [("Done one", "Done"), ("Stuck one", "Stuck"), ("Lower case", "done"),
         ("Unknown", "Blocked"), ("Inactive", "Retired")],
    )  # fmt: skip
    assert stored["Done one"]["stage"] == ("Done", {"index": 1, "label": "Done"})
    assert stored["Stuck one"]["stage"] == ("Stuck", {"index": 3, "label": "Stuck"})
    await assert_invalid(
        status, stored, "stage",
        {"Lower case": "INVALID_STATUS_LABEL", "Unknown": "INVALID_STATUS_LABEL",
         "Inactive": "INACTIVE_LABEL"},
    )  # fmt: skip
    report = await report_by_name(status)
    assert "'Done'" in report["Lower case"]["__errors"]  # the case-sensitive hint


async def test_dropdown_labels_must_all_exist_and_be_active(board: Api) -> None:
    status, stored = await import_rows(
        board, "tags",
        [("Two", "Option A, Option B"), ("Quoted comma", '"Red, dark",Option B'),
         ("Repeated", "Option A,Option A"), ("One bad", "Option A, Option Z"),
         ("Case", "option a"), ("Inactive", "Option B, Legacy")],
    )  # fmt: skip
    assert stored["Two"]["tags"] == ("Option A, Option B", {"ids": [1, 2]})
    assert stored["Quoted comma"]["tags"] == ("Red, dark, Option B", {"ids": [4, 2]})
    assert stored["Repeated"]["tags"] == ("Option A", {"ids": [1]})
    await assert_invalid(
        status, stored, "tags",
        {"One bad": "INVALID_DROPDOWN_LABEL", "Case": "INVALID_DROPDOWN_LABEL",
         "Inactive": "INACTIVE_LABEL"},
    )  # fmt: skip


async def test_people_resolve_by_email_id_name_team_and_bare_name(board: Api) -> None:
    status, stored = await import_rows(
        board, "owner",
        [("By email", "BOB@acme.example.com"), ("By user id", "user:11"),
         ("By user name", "user:Bob Member"), ("By team id", "team:5"),
         ("By team name", "team:Ops"), ("Bare user", "Vera Viewer"), ("Bare team", "Design"),
         ("Several", "ada@acme.example.com, team:Design")],
    )  # fmt: skip
    assert status["fully_imported"], status
    bob = ("Bob Member", {"personsAndTeams": [{"id": 11, "kind": "person"}]})
    ops = ("Ops", {"personsAndTeams": [{"id": 5, "kind": "team"}]})
    assert stored["By email"]["owner"] == bob
    assert stored["By user id"]["owner"] == bob
    assert stored["By user name"]["owner"] == bob
    assert stored["By team id"]["owner"] == ops
    assert stored["By team name"]["owner"] == ops
    assert stored["Bare user"]["owner"] == (
        "Vera Viewer", {"personsAndTeams": [{"id": 12, "kind": "person"}]}
    )  # fmt: skip
    assert stored["Bare team"]["owner"] == (
        "Design", {"personsAndTeams": [{"id": 6, "kind": "team"}]}
    )  # fmt: skip
    assert stored["Several"]["owner"] == (
        "Ada Admin, Design",
        {"personsAndTeams": [{"id": 10, "kind": "person"}, {"id": 6, "kind": "team"}]},
    )


async def test_people_duplicates_are_removed(board: Api) -> None:
    _, stored = await import_rows(
        board, "owner",
        [("Bob four times", "bob@acme.example.com, user:11, user:Bob Member, Bob Member")],
    )  # fmt: skip
    assert stored["Bob four times"]["owner"] == (
        "Bob Member", {"personsAndTeams": [{"id": 11, "kind": "person"}]}
    )  # fmt: skip


async def test_people_column_respects_max_people_allowed(board: Api) -> None:
    status, stored = await import_rows(
        board, "pair",
        [("Two", "Ada Admin, Bob Member"),
         ("Two after dedupe", "Ada Admin, user:10, ada@acme.example.com, Bob Member"),
         ("Three", "Ada Admin, Bob Member, Vera Viewer")],
    )  # fmt: skip
    assert stored["Two"]["pair"][0] == "Ada Admin, Bob Member"
    assert stored["Two after dedupe"]["pair"][0] == "Ada Admin, Bob Member"
    await assert_invalid(status, stored, "pair", {"Three": "TOO_MANY_PEOPLE"})


async def test_people_matching_nobody_or_several_make_the_row_invalid(board: Api) -> None:
    status, stored = await import_rows(
        board, "owner",
        [("Good", "Ada Admin"), ("Unknown email", "nobody@acme.example.com"),
         ("Other account", "gus@globex.example.com"), ("Unknown id", "user:99999"),
         ("Unknown team", "team:Nope"), ("Ambiguous", "Sam Same"),
         ("Deactivated", "Olga Old"), ("One of two bad", "Ada Admin, Nobody Atall"),
         ("Ambiguous user name", "user:Sam Same"), ("User and team", "Ops"),
         ("Deactivated by email", "olga@acme.example.com")],
    )  # fmt: skip
    assert stored["Good"]["owner"][0] == "Ada Admin"
    await assert_invalid(
        status, stored, "owner",
        {"Unknown email": "PERSON_NOT_FOUND", "Other account": "PERSON_NOT_FOUND",
         "Unknown id": "PERSON_NOT_FOUND", "Unknown team": "PERSON_NOT_FOUND",
         "Ambiguous": "AMBIGUOUS_PERSON", "Deactivated": "INACTIVE_USER",
         "One of two bad": "PERSON_NOT_FOUND", "Ambiguous user name": "AMBIGUOUS_PERSON",
         "User and team": "AMBIGUOUS_PERSON", "Deactivated by email": "INACTIVE_USER"},
    )  # fmt: skip


async def test_board_relation_takes_item_ids_or_exact_item_names(board: Api) -> None:
    status, stored = await import_rows(
        board, "client",
        [("By id", "5002"), ("By name", "Globex"), ("Quoted name", '"Acme, Inc", 5002'),
         ("Case differs", "globex"), ("Ambiguous name", "Twin"), ("Other board", "5101"),
         ("Missing", "Nope Corp")],
    )  # fmt: skip
    globex = ("Globex", {"linkedPulseIds": [{"linkedPulseId": 5002}]})
    assert stored["By id"]["client"] == globex
    assert stored["By name"]["client"] == globex
    assert stored["Quoted name"]["client"] == (
        "Acme, Inc, Globex",
        {"linkedPulseIds": [{"linkedPulseId": 5001}, {"linkedPulseId": 5002}]},
    )
    await assert_invalid(
        status, stored, "client",
        {"Case differs": "ITEM_NOT_FOUND", "Ambiguous name": "AMBIGUOUS_ITEM",
         "Other board": "ITEM_NOT_FOUND", "Missing": "ITEM_NOT_FOUND"},
    )  # fmt: skip


async def test_single_target_board_relation_also_takes_its_board_id_prefix(board: Api) -> None:
    # a client that writes board_id:item for every relation column is understood; another
    # board's prefix is no item of this column's board
    status, stored = await import_rows(
        board, "client",
        [("Prefixed id", "500:5002"), ("Prefixed name", "500: Globex"),
         ("Prefixed quoted", '500:"Acme, Inc"'), ("Other board", "501:Initech"),
         ("Other board id", "501:5101")],
    )  # fmt: skip
    globex = ("Globex", {"linkedPulseIds": [{"linkedPulseId": 5002}]})
    assert stored["Prefixed id"]["client"] == globex
    assert stored["Prefixed name"]["client"] == globex
    assert stored["Prefixed quoted"]["client"][1] == {"linkedPulseIds": [{"linkedPulseId": 5001}]}
    await assert_invalid(
        status,
        stored,
        "client",
        {"Other board": "ITEM_NOT_FOUND", "Other board id": "ITEM_NOT_FOUND"},
    )


async def test_multi_target_board_relation_needs_the_board_id_prefix(board: Api) -> None:
    status, stored = await import_rows(
        board, "partner",
        [("Prefixed", "500:Globex, 501:Initech, 501:5102"), ("Prefixed id", "500:5001"),
         ("No prefix", "Globex"), ("Foreign board", "502:Part 1"),
         ("Wrong board", "501:Twin")],
    )  # fmt: skip
    assert stored["Prefixed"]["partner"] == (
        "Globex, Initech, Globex",
        {"linkedPulseIds": [{"linkedPulseId": 5002}, {"linkedPulseId": 5101},
                            {"linkedPulseId": 5102}]},
    )  # fmt: skip
    assert stored["Prefixed id"]["partner"][1] == {"linkedPulseIds": [{"linkedPulseId": 5001}]}
    await assert_invalid(
        status, stored, "partner",
        {"No prefix": "BOARD_PREFIX_REQUIRED", "Foreign board": "ITEM_NOT_FOUND",
         "Wrong board": "ITEM_NOT_FOUND"},
    )  # fmt: skip


async def test_a_name_with_a_comma_may_be_quoted_after_its_board_prefix(board: Api) -> None:
    # "Quote names that contain commas": the name alone, after board_id:, or the whole reference
    status, stored = await import_rows(
        board, "partner",
        [("Name quoted", '500:"Acme, Inc", 501:Initech'),
         ("Reference quoted", '"500:Acme, Inc"'), ("Spaced", '500: "Acme, Inc" ,501:5101'),
         ("Unclosed", '500:"Acme, Inc')],
    )  # fmt: skip
    acme_initech = {"linkedPulseIds": [{"linkedPulseId": 5001}, {"linkedPulseId": 5101}]}
    assert stored["Name quoted"]["partner"] == ("Acme, Inc, Initech", acme_initech)
    assert stored["Reference quoted"]["partner"][1] == {"linkedPulseIds": [{"linkedPulseId": 5001}]}
    assert stored["Spaced"]["partner"][1] == acme_initech
    await assert_invalid(status, stored, "partner", {"Unclosed": "ITEM_NOT_FOUND"})


async def test_a_relation_cell_links_at_most_fifty_items(board: Api) -> None:
    fifty = ", ".join(str(6000 + n) for n in range(50))
    status, stored = await import_rows(
        board, "parts", [("Fifty", fifty), ("Fifty-one", fifty + ", 6050")]
    )
    value = stored["Fifty"]["parts"][1]
    assert [link["linkedPulseId"] for link in value["linkedPulseIds"]] == [
        6000 + n for n in range(50)
    ]
    await assert_invalid(status, stored, "parts", {"Fifty-one": "TOO_MANY_ITEMS"})


async def test_items_of_a_deleted_target_board_cannot_be_linked(board: Api) -> None:
    # the column still names board 501, but its items went with it: none exists to link
    await board.gql("mutation { delete_board(board_id: 501) { id } }")
    status, stored = await import_rows(
        board, "partner",
        [("Still there", "500:Globex"), ("By id", "501:5101"), ("By name", "501:Initech")],
    )  # fmt: skip
    assert stored["Still there"]["partner"][1] == {"linkedPulseIds": [{"linkedPulseId": 5002}]}
    await assert_invalid(
        status, stored, "partner", {"By id": "ITEM_NOT_FOUND", "By name": "ITEM_NOT_FOUND"}
    )


async def test_items_of_another_accounts_board_cannot_be_linked(api: Api) -> None:
    # board 300 (item 3000, "Hidden") is account 2's: a column naming it links nothing there
    await api.load_fixture({
        "accounts": FIXTURE["accounts"],
        "boards": [{"id": 420, "account_id": 1, "name": "Leaky", "members": OWNERS,
                    "columns": [{"id": "rel", "type": "board_relation",
                                 "settings": {"board_ids": [300]}}]}],
    })  # fmt: skip
    status, stored = await import_rows(
        api, "rel", [("By id", "3000"), ("By name", "Hidden")], board_id="420"
    )
    await assert_invalid(
        status, stored, "rel", {"By id": "ITEM_NOT_FOUND", "By name": "ITEM_NOT_FOUND"}
    )


async def test_more_than_five_relation_columns_reject_the_file(api: Api) -> None:
    relation_columns = [
        {"id": f"rel{n}", "type": "board_relation", "settings": {"board_ids": [100]}}
        for n in range(1, 7)
    ]
    await api.load_fixture(
        {
            "accounts": FIXTURE["accounts"],
            "boards": [{"id": 410, "account_id": 1, "name": "Links", "members": OWNERS,
                        "columns": relation_columns}],
        }
    )  # fmt: skip
    six = [f"rel{n}" for n in range(1, 7)]
    status = await run_import(
        api, csv_text(["name", *six], [["Row", *["1000"] * 6]]), board_id="410"
    )
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "INVALID_UPLOAD"
    assert "6 board relation columns" in status["failure_message"]
    assert await stored_values(api, "410") == {}
    five = six[:5]
    status = await run_import(
        api, csv_text(["name", *five], [["Row", *["1000"] * 5]]), board_id="410"
    )
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == 1, status
    stored = await stored_values(api, "410")
    assert stored["Row"]["rel5"] == (
        "Existing lead", {"linkedPulseIds": [{"linkedPulseId": 1000}]}
    )  # fmt: skip


async def test_dates_in_iso_are_stored_and_unambiguous_forms_normalised(board: Api) -> None:
    status, stored = await import_rows(
        board, "due",
        [("Iso", "2025-12-31"), ("Dotted", "31.12.2025"), ("Slashed year first", "2025/12/31"),
         ("Month first", "12/31/2025"), ("Month name", "Dec 31, 2025"),
         ("Day month name", "31 December 2025"), ("With time", "2025-12-31 14:30"),
         ("Ambiguous", "01/02/2025"), ("No such day", "2025-02-30"), ("Words", "next week"),
         ("Two digit year", "31/12/25")],
    )  # fmt: skip
    for name in ("Iso", "Dotted", "Slashed year first", "Month first", "Month name",
                 "Day month name"):  # fmt: skip
        assert stored[name]["due"] == ("2025-12-31", {"date": "2025-12-31"}), name
    assert stored["With time"]["due"] == (
        "2025-12-31 14:30:00", {"date": "2025-12-31", "time": "14:30:00"}
    )  # fmt: skip
    await assert_invalid(
        status, stored, "due",
        {"Ambiguous": "AMBIGUOUS_DATE", "No such day": "INVALID_DATE", "Words": "INVALID_DATE",
         "Two digit year": "INVALID_DATE"},
    )  # fmt: skip


async def test_timeline_takes_a_range_or_one_day_and_refuses_other_separators(board: Api) -> None:
    status, stored = await import_rows(
        board, "span",
        [("Range", "2025-01-01/2025-01-31"), ("One day", "2025-03-05"),
         ("Spaced slash", "2025-01-01 / 2025-01-31"),
         ("Dash with spaces", "2025-01-01 - 2025-01-31"), ("Pipe", "2025-01-01|2025-01-31"),
         ("Json", '{"from": "2025-01-01", "to": "2025-01-31"}'),
         ("Backwards", "2025-02-01/2025-01-01"), ("No such day", "2025-02-30/2025-03-01"),
         ("Not iso", "31.01.2025/01.02.2025")],
    )  # fmt: skip
    january = ("2025-01-01 - 2025-01-31", {"from": "2025-01-01", "to": "2025-01-31"})
    assert stored["Range"]["span"] == january
    assert stored["Spaced slash"]["span"] == january
    assert stored["One day"]["span"] == (
        "2025-03-05 - 2025-03-05", {"from": "2025-03-05", "to": "2025-03-05"}
    )  # fmt: skip
    await assert_invalid(
        status, stored, "span",
        {name: "INVALID_TIMELINE" for name in
         ("Dash with spaces", "Pipe", "Json", "Backwards", "No such day", "Not iso")},
    )  # fmt: skip


async def test_links_take_http_urls_or_markdown_and_refuse_other_schemes(board: Api) -> None:
    status, stored = await import_rows(
        board, "site",
        [("Plain", "https://example.com/a?b=1"), ("Http", "http://example.com"),
         ("Markdown", "[The docs](https://docs.example.com/x)"), ("Ftp", "ftp://example.com/f"),
         ("No scheme", "www.example.com"), ("Script", "javascript:alert(1)"),
         ("Markdown ftp", "[Files](ftp://example.com)"), ("Spaces", "https://exa mple.com")],
    )  # fmt: skip
    assert stored["Plain"]["site"] == (
        "https://example.com/a?b=1",
        {"url": "https://example.com/a?b=1", "text": "https://example.com/a?b=1"},
    )
    assert stored["Http"]["site"][1]["url"] == "http://example.com"
    assert stored["Markdown"]["site"] == (
        "The docs - https://docs.example.com/x",
        {"url": "https://docs.example.com/x", "text": "The docs"},
    )
    await assert_invalid(
        status, stored, "site",
        {name: "INVALID_URL" for name in
         ("Ftp", "No scheme", "Script", "Markdown ftp", "Spaces")},
    )  # fmt: skip


async def test_a_link_needs_a_host_name_and_port_that_can_exist(board: Api) -> None:
    status, stored = await import_rows(
        board, "site",
        [("Port", "http://localhost:8080/x"), ("Ipv6", "https://[::1]/a"),
         ("Idn", "https://münchen.de"), ("Trailing dot", "https://example.com./a"),
         ("Underscore", "https://my_host.example.com"),
         ("Empty label", "https://a..b"), ("Dots only", "https://.."), ("Star", "https://*.com"),
         ("Hyphen first", "https://-a.example.com"), ("Escaped space", "https://exa%20mple.com"),
         ("Port not a number", "https://example.com:abc"),
         ("Port too large", "https://example.com:99999"),
         ("Markdown empty label", "[Docs](https://docs..example.com)")],
    )  # fmt: skip
    for name in ("Port", "Ipv6", "Idn", "Trailing dot", "Underscore"):
        assert name in stored, name
    assert stored["Port"]["site"][1]["url"] == "http://localhost:8080/x"
    await assert_invalid(
        status, stored, "site",
        {name: "INVALID_URL" for name in
         ("Empty label", "Dots only", "Star", "Hyphen first", "Escaped space",
          "Port not a number", "Port too large", "Markdown empty label")},
    )  # fmt: skip


async def test_email_takes_an_address_or_a_name_and_address(board: Api) -> None:
    status, stored = await import_rows(
        board, "mail",
        [("Plain", "ada@example.com"), ("Named", "Ada Lovelace <ada@example.com>"),
         ("Quoted name", '"Lovelace, Ada" <ada@example.com>'), ("No at", "ada.example.com"),
         ("Words", "not an email"), ("Named bad", "Ada <nope>")],
    )  # fmt: skip
    assert stored["Plain"]["mail"] == (
        "ada@example.com", {"email": "ada@example.com", "text": "ada@example.com"}
    )  # fmt: skip
    assert stored["Named"]["mail"] == (
        "ada@example.com", {"email": "ada@example.com", "text": "Ada Lovelace"}
    )  # fmt: skip
    assert stored["Quoted name"]["mail"][1] == {"email": "ada@example.com", "text": "Lovelace, Ada"}
    await assert_invalid(
        status, stored, "mail",
        {"No at": "INVALID_EMAIL", "Words": "INVALID_EMAIL", "Named bad": "INVALID_EMAIL"},
    )  # fmt: skip


async def test_phone_numbers_take_a_country_code_or_a_country_hint(board: Api) -> None:
    status, stored = await import_rows(
        board, "phone",
        [("International", "+44 20 7946 0958"), ("Hinted", "020 7946 0958 GB"),
         ("Hint in brackets", "(201) 555-0123 (US)"), ("Too short", "+44 12"),
         ("No country", "020 7946 0958"), ("Letters", "call me"),
         ("Unknown country", "020 7946 0958 ZZ")],
    )  # fmt: skip
    london = ("+442079460958", {"phone": "+442079460958", "countryShortName": "GB"})
    assert stored["International"]["phone"] == london
    assert stored["Hinted"]["phone"] == london
    assert stored["Hint in brackets"]["phone"] == (
        "+12015550123", {"phone": "+12015550123", "countryShortName": "US"}
    )  # fmt: skip
    # the hint is optional: a number without one keeps its digits, with no country
    assert stored["No country"]["phone"] == (
        "02079460958", {"phone": "02079460958", "countryShortName": ""}
    )  # fmt: skip
    await assert_invalid(
        status, stored, "phone",
        {name: "INVALID_PHONE" for name in ("Too short", "Letters", "Unknown country")},
    )  # fmt: skip


async def test_checkbox_takes_yes_and_no_words(board: Api) -> None:
    status, stored = await import_rows(
        board, "done",
        [("True", "true"), ("X", "X"), ("Yes", "yes"), ("False", "false"), ("No", "no"),
         ("Maybe", "maybe")],
    )  # fmt: skip
    checked = ("v", {"checked": "true"})
    assert stored["True"]["done"] == checked
    assert stored["X"]["done"] == checked
    assert stored["Yes"]["done"] == checked
    assert "done" not in stored["False"] and "done" not in stored["No"]
    await assert_invalid(status, stored, "done", {"Maybe": "INVALID_CHECKBOX"})


async def test_whitespace_only_cells_are_empty_in_every_column(board: Api) -> None:
    blanks = [" ", "\t", "   ", " \t "]
    cells = [blanks[n % len(blanks)] for n in range(len(COLUMN_IDS))]
    body = csv_text(["name", *COLUMN_IDS], [["Blank", *cells], ["   ", *cells]])
    status = await run_import(board, body, board_id=BOARD)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 1 and status["counts"]["invalid"] == 1, status
    stored = await stored_values(board, BOARD)
    assert stored == {"Blank": {}}
    report = await download_whitespace_report(status)
    assert report["__errors"].startswith("name: MISSING_NAME: "), report


async def download_whitespace_report(status: dict[str, Any]) -> dict[str, str]:
    rows = list((await report_by_name(status)).values())
    assert len(rows) == 1
    assert rows[0]["__line"] == "3"
    return rows[0]


async def test_every_column_type_in_one_row_is_stored_with_its_text(board: Api) -> None:
    cells = {
        "text": "Hi", "notes": "Long\ntext", "num": "3.25", "price": "10", "stage": "Working on it",
        "tags": "Option B", "due": "2026-01-15", "span": "2026-01-01/2026-01-10",
        "owner": "team:Ops", "pair": "Bob Member", "phone": "+14155550123",
        "mail": "Bob <bob@example.com>", "site": "[Home](https://example.com)",
        "client": '"Acme, Inc"', "partner": "501:Initech", "parts": "Part 7", "done": "1",
    }  # fmt: skip
    assert list(cells) == COLUMN_IDS
    status = await run_import(
        board, csv_text(["name", *cells], [["Everything", *cells.values()]]), board_id=BOARD
    )
    assert status["counts"]["created"] == 1 and status["fully_imported"], status
    texts = {c: text for c, (text, _) in (await stored_values(board, BOARD))["Everything"].items()}
    assert texts == {
        "text": "Hi", "notes": "Long\ntext", "num": "3.25", "price": "10", "stage": "Working on it",
        "tags": "Option B", "due": "2026-01-15", "span": "2026-01-01 - 2026-01-10",
        "owner": "Ops", "pair": "Bob Member", "phone": "+14155550123", "mail": "bob@example.com",
        "site": "Home - https://example.com", "client": "Acme, Inc", "partner": "Initech",
        "parts": "Part 7", "done": "v",
    }  # fmt: skip
