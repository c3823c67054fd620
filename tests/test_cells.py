from typing import Any

import pytest

from server.imports import cells

USERS = [
    cells.Person(id=10, name="Ada Admin", email="ada@acme.example.com"),
    cells.Person(id=11, name="Bob Member", email="Bob@Acme.example.com"),
    cells.Person(id=12, name="Carol Gone", email="carol@acme.example.com", enabled=False),
    cells.Person(id=13, name="Sam Twin", email="sam1@acme.example.com"),
    cells.Person(id=14, name="Sam Twin", email="sam2@acme.example.com"),
    cells.Person(id=15, name="Sales", email="sales@acme.example.com"),
    cells.Person(id=16, name="Dora Old", email="dora.old@acme.example.com", enabled=False),
    cells.Person(id=17, name="Dora", email="dora@acme.example.com"),
    cells.Person(id=18, name="Dora", email="dora.gone@acme.example.com", enabled=False),
    cells.Person(id=19, name="Lovelace, Ada", email="ada.l@acme.example.com"),
]
TEAMS = [
    cells.Team(id=5, name="Ops"),
    cells.Team(id=6, name="Sales"),
    cells.Team(id=7, name="R&D, Labs"),
]
ITEMS = {
    100: {1000: "Existing lead", 1001: "Acme, Inc", 1002: "Twin", 1003: "Twin", 1004: "1000"},
    200: {2000: "Other board item", 2001: "Existing lead"},
}
DIRECTORY = cells.Directory(users=USERS, teams=TEAMS, items=ITEMS)

STATUS_LABELS = ["Working on it", "Done", "Stuck", {"label": "Old", "active": False}]
DROPDOWN_LABELS = ["Option A", "Option B", "Option C", {"label": "Legacy", "active": False}]
COLUMNS = {
    "text": cells.Column(id="text", title="Text", type="text", settings={}),
    "long_text": cells.Column(id="notes", title="Notes", type="long_text", settings={}),
    "numbers": cells.Column(id="numeric", title="Numeric", type="numbers", settings={}),
    "currency": cells.Column(
        id="budget", title="Budget", type="currency", settings={"currency": "USD"}
    ),
    "status": cells.Column(
        id="status", title="Status", type="status", settings={"labels": STATUS_LABELS}
    ),
    "dropdown": cells.Column(
        id="dropdown", title="Dropdown", type="dropdown", settings={"labels": DROPDOWN_LABELS}
    ),
    "date": cells.Column(id="date", title="Date", type="date", settings={}),
    "timeline": cells.Column(id="timeline", title="Timeline", type="timeline", settings={}),
    "people": cells.Column(id="people", title="People", type="people", settings={}),
    "phone": cells.Column(id="phone", title="Phone", type="phone", settings={}),
    "email": cells.Column(id="email", title="Email", type="email", settings={}),
    "link": cells.Column(id="link", title="Link", type="link", settings={}),
    "board_relation": cells.Column(
        id="leads", title="Leads", type="board_relation", settings={"board_ids": [100]}
    ),
    "checkbox": cells.Column(id="done", title="Done", type="checkbox", settings={}),
}
MULTI_RELATION = cells.Column(
    id="links", title="Links", type="board_relation", settings={"board_ids": [100, "200"]}
)


def parse(column_type: str, raw: str) -> cells.Cell | None:
    return cells.parse_cell(COLUMNS[column_type], raw, DIRECTORY)


def value_of(column_type: str, raw: str) -> Any:
    cell = parse(column_type, raw)
    assert cell is not None
    return cell.value


def error_of(column: str | cells.Column, raw: str, directory: cells.Directory = DIRECTORY) -> str:
    column = COLUMNS[column] if isinstance(column, str) else column
    with pytest.raises(cells.CellError) as caught:
        cells.parse_cell(column, raw, directory)
    assert caught.value.message == str(caught.value)
    return caught.value.code


def message_of(column_type: str, raw: str) -> str:
    with pytest.raises(cells.CellError) as caught:
        parse(column_type, raw)
    return caught.value.message


# Every type


@pytest.mark.parametrize("column_type", [*COLUMNS, "formula"])
@pytest.mark.parametrize("raw", ["", "   ", "\t\n", "\u00a0"])
def test_empty_or_whitespace_cell_is_none_for_every_type(column_type: str, raw: str) -> None:
    column = COLUMNS.get(column_type) or cells.Column(id="f", title="F", type=column_type)
    assert cells.parse_cell(column, raw, DIRECTORY) is None


def test_unsupported_column_type_fails_only_cells_with_content() -> None:
    column = cells.Column(id="formula", title="Formula", type="formula", settings={})
    parser = cells.compile_parser(column, DIRECTORY)
    assert parser("") is None
    assert error_of(column, "=1+1") == "UNSUPPORTED_COLUMN_TYPE"


def test_unsupported_column_type_cannot_be_rendered() -> None:
    column = cells.Column(id="formula", title="Formula", type="formula", settings={})
    with pytest.raises(cells.CellError) as caught:
        cells.render_csv(column, "x", DIRECTORY)
    assert caught.value.code == "UNSUPPORTED_COLUMN_TYPE"
    with pytest.raises(cells.CellError):
        cells.display_text(column, "x", DIRECTORY)


def test_column_settings_default_to_empty() -> None:
    column = cells.Column(id="email", title="Email", type="email")
    assert cells.parse_cell(column, "a@example.com", DIRECTORY) is not None


def test_compiled_parser_is_reused_for_many_cells() -> None:
    parser = cells.compile_parser(COLUMNS["status"], DIRECTORY)
    assert [parser(raw) for raw in ["Done", "", "Stuck"]] == [
        cells.Cell({"index": 1, "label": "Done"}, "Done"),
        None,
        cells.Cell({"index": 2, "label": "Stuck"}, "Stuck"),
    ]


def test_error_message_truncates_long_values() -> None:
    message = message_of("numbers", "x" * 500)
    assert "x" * 100 + "..." in message
    assert "x" * 101 not in message


# text and long_text


def test_text_keeps_inner_whitespace_and_strips_the_outside() -> None:
    assert parse("text", "  a  b\nc  ") == cells.Cell("a  b\nc", "a  b\nc")


def test_long_text_stores_a_text_object() -> None:
    assert parse("long_text", " Line 1\nLine 2 ") == cells.Cell(
        {"text": "Line 1\nLine 2"}, "Line 1\nLine 2"
    )


# numbers and currency


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("100", "100"),
        (" -1.5 ", "-1.5"),
        ("+3", "3"),
        ("1.50", "1.5"),
        ("007", "7"),
        ("1e3", "1000"),
        ("2.5E-2", "0.025"),
        ("-0", "0"),
        ("0.000", "0"),
        (".5", "0.5"),
        ("5.", "5"),
        ("123456789012345678901234567890.5", "123456789012345678901234567890.5"),
    ],
)
@pytest.mark.parametrize("column_type", ["numbers", "currency"])
def test_number_is_stored_as_canonical_string(column_type: str, raw: str, number: str) -> None:
    assert parse(column_type, raw) == cells.Cell(number, number)


@pytest.mark.parametrize(
    "raw",
    ["1,000", "1 000", "NaN", "nan", "Infinity", "-inf", "abc", "--1", "1e", "1.2.3", "$5", "٣"],
)
@pytest.mark.parametrize("column_type", ["numbers", "currency"])
def test_number_rejects_what_is_not_a_plain_number(column_type: str, raw: str) -> None:
    assert error_of(column_type, raw) == "INVALID_NUMBER"


@pytest.mark.parametrize("raw", ["1e999999999999999999999", "1e101", "1e-101"])
def test_number_rejects_exponents_out_of_range(raw: str) -> None:
    assert error_of("numbers", raw) == "INVALID_NUMBER"


def test_number_message_names_the_value_and_mentions_separators() -> None:
    message = message_of("numbers", "1,000")
    assert "'1,000'" in message
    assert "thousands separators" in message


# status


def test_status_stores_index_and_label() -> None:
    assert parse("status", " Done ") == cells.Cell({"index": 1, "label": "Done"}, "Done")


def test_status_rejects_label_with_wrong_case() -> None:
    assert error_of("status", "done") == "INVALID_STATUS_LABEL"
    assert "did you mean 'Done'" in message_of("status", "done")


def test_status_rejects_unknown_label_listing_the_valid_ones() -> None:
    assert error_of("status", "Blocked") == "INVALID_STATUS_LABEL"
    message = message_of("status", "Blocked")
    assert "'Blocked'" in message
    assert "'Working on it', 'Done', 'Stuck'" in message
    assert "Old" not in message


def test_status_rejects_inactive_label() -> None:
    assert error_of("status", "Old") == "INACTIVE_LABEL"


def test_status_on_column_without_labels_rejects_every_value() -> None:
    column = cells.Column(id="s", title="S", type="status", settings={})
    assert error_of(column, "Done") == "INVALID_STATUS_LABEL"


def test_status_index_counts_malformed_label_entries_as_positions() -> None:
    column = cells.Column(id="s", title="S", type="status", settings={"labels": [7, "Done"]})
    assert cells.parse_cell(column, "Done", DIRECTORY) == cells.Cell(
        {"index": 1, "label": "Done"}, "Done"
    )


# dropdown


def test_dropdown_stores_one_based_label_positions() -> None:
    assert parse("dropdown", "Option A, Option C") == cells.Cell(
        {"ids": [1, 3]}, "Option A, Option C"
    )


def test_dropdown_ignores_empty_pieces_and_duplicates() -> None:
    assert parse("dropdown", ",Option B,, Option A ,Option B,") == cells.Cell(
        {"ids": [2, 1]}, "Option B, Option A"
    )


def test_dropdown_cell_of_only_commas_is_empty() -> None:
    assert parse("dropdown", " , ,") is None


def test_dropdown_fails_whole_cell_for_one_unknown_label() -> None:
    assert error_of("dropdown", "Option A, Option Z") == "INVALID_DROPDOWN_LABEL"
    assert "'Option Z'" in message_of("dropdown", "Option A, Option Z")


def test_dropdown_names_every_unknown_label() -> None:
    message = message_of("dropdown", "X, Option A, Y")
    assert "'X', 'Y' are not labels" in message


def test_dropdown_rejects_inactive_label() -> None:
    assert error_of("dropdown", "Option A, Legacy") == "INACTIVE_LABEL"


def test_dropdown_reports_unknown_label_before_inactive_one() -> None:
    assert error_of("dropdown", "Legacy, Nope") == "INVALID_DROPDOWN_LABEL"


def test_dropdown_rejects_label_with_wrong_case() -> None:
    assert error_of("dropdown", "option a") == "INVALID_DROPDOWN_LABEL"


def test_dropdown_reads_quoted_label_containing_a_comma() -> None:
    column = cells.Column(
        id="d", title="D", type="dropdown", settings={"labels": ["Red, dark", "Blue"]}
    )
    cell = cells.parse_cell(column, '"Red, dark", Blue', DIRECTORY)
    assert cell == cells.Cell({"ids": [1, 2]}, "Red, dark, Blue")


# date


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("2025-12-31", {"date": "2025-12-31"}),
        ("2025-1-5", {"date": "2025-01-05"}),
        ("2025/12/31", {"date": "2025-12-31"}),
        ("31.12.2025", {"date": "2025-12-31"}),
        ("01.02.2025", {"date": "2025-02-01"}),
        ("Dec 31, 2025", {"date": "2025-12-31"}),
        ("dec. 31 2025", {"date": "2025-12-31"}),
        ("December 31 2025", {"date": "2025-12-31"}),
        ("Sept 3rd, 2025", {"date": "2025-09-03"}),
        ("31 Dec 2025", {"date": "2025-12-31"}),
        ("31-Dec-2025", {"date": "2025-12-31"}),
        ("31 December, 2025", {"date": "2025-12-31"}),
        ("31/12/2025", {"date": "2025-12-31"}),
        ("12/31/2025", {"date": "2025-12-31"}),
        ("13-01-2025", {"date": "2025-01-13"}),
        ("05/05/2025", {"date": "2025-05-05"}),
        ("2025-12-31 14:30", {"date": "2025-12-31", "time": "14:30:00"}),
        ("2025-12-31T14:30:00Z", {"date": "2025-12-31", "time": "14:30:00"}),
        ("2025-12-31T14:30:15.250", {"date": "2025-12-31", "time": "14:30:15"}),
        ("2025-12-31T23:30:00-02:00", {"date": "2026-01-01", "time": "01:30:00"}),
        ("2025-12-31 01:00+0200", {"date": "2025-12-30", "time": "23:00:00"}),
        ("Dec 31, 2025 2:30 PM", {"date": "2025-12-31", "time": "14:30:00"}),
        ("12/31/2025 12:05 am", {"date": "2025-12-31", "time": "00:05:00"}),
    ],
)
def test_date_accepts_iso_and_unambiguous_formats(raw: str, value: dict[str, str]) -> None:
    assert value_of("date", raw) == value


def test_date_text_is_iso_with_optional_time() -> None:
    assert parse("date", "Dec 31, 2025") == cells.Cell({"date": "2025-12-31"}, "2025-12-31")
    cell = parse("date", "2025-12-31 14:30")
    assert cell is not None
    assert cell.text == "2025-12-31 14:30:00"


@pytest.mark.parametrize("raw", ["01/02/2025", "12-11-2025", "3/4/2025"])
def test_date_rejects_ambiguous_day_month_order(raw: str) -> None:
    assert error_of("date", raw) == "AMBIGUOUS_DATE"
    assert "YYYY-MM-DD" in message_of("date", raw)


@pytest.mark.parametrize(
    "raw",
    [
        "2025-02-30",
        "2025-13-01",
        "0000-01-01",
        "31/02/2025",
        "13/13/2025",
        "Foo 31, 2025",
        "31/12/25",
        "tomorrow",
        "2025-12-31 25:00",
        "2025-12-31 13:00 PM",
        "2025-12-31T10:00+24:00",
        "2025-12-31 14:30:61",
        "2025/12-31",
        "0001-01-01T00:30+01:00",
        "Dec" + " " * 70 + "31, 2025",
        "1" * 200,
    ],
)
def test_date_rejects_invalid_dates(raw: str) -> None:
    assert error_of("date", raw) == "INVALID_DATE"


# timeline


def test_timeline_accepts_range() -> None:
    assert parse("timeline", "2025-01-01/2025-02-01") == cells.Cell(
        {"from": "2025-01-01", "to": "2025-02-01"}, "2025-01-01 - 2025-02-01"
    )


def test_timeline_single_date_sets_from_and_to() -> None:
    assert value_of("timeline", "2025-03-04") == {"from": "2025-03-04", "to": "2025-03-04"}


@pytest.mark.parametrize(
    "raw",
    [
        "2025-01-01 - 2025-02-01",
        "2025-01-01|2025-02-01",
        '{"from": "2025-01-01", "to": "2025-02-01"}',
        "2025/01/01",
        "Jan 1, 2025",
        "2025-1-1/2025-02-01",
        "2025-02-30/2025-03-01",
        "2025-02-01/2025-01-01",
        "2025-01-01/",
    ],
)
def test_timeline_rejects_other_formats_and_reversed_ranges(raw: str) -> None:
    assert error_of("timeline", raw) == "INVALID_TIMELINE"


def test_timeline_message_says_when_range_is_reversed() -> None:
    assert "starts after it ends" in message_of("timeline", "2025-02-01/2025-01-01")


# people


def person(person_id: int) -> dict[str, Any]:
    return {"id": person_id, "kind": "person"}


def team(team_id: int) -> dict[str, Any]:
    return {"id": team_id, "kind": "team"}


@pytest.mark.parametrize(
    ("raw", "entry"),
    [
        ("ada@acme.example.com", person(10)),
        ("BOB@acme.EXAMPLE.com", person(11)),
        ("user:10", person(10)),
        ("User: 11", person(11)),
        ("user:Ada Admin", person(10)),
        ("team:5", team(5)),
        ("team:ops", team(5)),
        ("Ada Admin", person(10)),
        ("  ada   admin ", person(10)),
        ("Ops", team(5)),
        ("Dora", person(17)),
        ('"Lovelace, Ada"', person(19)),
        ('"team:R&D, Labs"', team(7)),
    ],
)
def test_people_resolves_each_kind_of_identifier(raw: str, entry: dict[str, Any]) -> None:
    assert value_of("people", raw) == {"personsAndTeams": [entry]}


def test_people_resolves_a_list_and_removes_duplicates() -> None:
    cell = parse("people", "ada@acme.example.com, Bob Member, user:10, team:Ops, Ops")
    assert cell == cells.Cell(
        {"personsAndTeams": [person(10), person(11), team(5)]}, "Ada Admin, Bob Member, Ops"
    )


@pytest.mark.parametrize(
    "raw", ["nobody@acme.example.com", "user:999", "team:999", "team:Nope", "Nobody", "user:Ops"]
)
def test_people_rejects_unknown_identifier(raw: str) -> None:
    assert error_of("people", raw) == "PERSON_NOT_FOUND"


@pytest.mark.parametrize("raw", ["Sam Twin", "user:Sam Twin", "Sales"])
def test_people_rejects_name_matching_several(raw: str) -> None:
    assert error_of("people", raw) == "AMBIGUOUS_PERSON"


@pytest.mark.parametrize(
    "raw", ["carol@acme.example.com", "user:12", "Carol Gone", "user:Dora Old"]
)
def test_people_rejects_deactivated_user(raw: str) -> None:
    assert error_of("people", raw) == "INACTIVE_USER"


def test_people_fails_whole_cell_for_one_bad_identifier() -> None:
    assert error_of("people", "Ada Admin, Nobody") == "PERSON_NOT_FOUND"
    assert "'Nobody'" in message_of("people", "Ada Admin, Nobody")


@pytest.mark.parametrize("limit", [1, "1"])
def test_people_respects_max_people_allowed(limit: object) -> None:
    column = cells.Column(
        id="owner", title="Owner", type="people", settings={"max_people_allowed": limit}
    )
    assert cells.parse_cell(column, "Ada Admin, user:10", DIRECTORY) is not None
    assert error_of(column, "Ada Admin, Bob Member") == "TOO_MANY_PEOPLE"


@pytest.mark.parametrize("limit", [0, None, -1, "many"])
def test_people_without_a_positive_limit_is_unlimited(limit: object) -> None:
    column = cells.Column(
        id="owner", title="Owner", type="people", settings={"max_people_allowed": limit}
    )
    assert cells.parse_cell(column, "Ada Admin, Bob Member, Ops", DIRECTORY) is not None


# phone


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("+1 555-123-4567", {"phone": "+15551234567", "countryShortName": "US"}),
        ("+44 20 7946 0958", {"phone": "+442079460958", "countryShortName": "GB"}),
        ("(555) 123-4567 US", {"phone": "+15551234567", "countryShortName": "US"}),
        ("555 123 4567 (US)", {"phone": "+15551234567", "countryShortName": "US"}),
        ("5551234567(ca)", {"phone": "+15551234567", "countryShortName": "CA"}),
        ("020 7946 0958 GB", {"phone": "+442079460958", "countryShortName": "GB"}),
        ("+1 555 123 4567 CA", {"phone": "+15551234567", "countryShortName": "CA"}),
        ("+800 1234 5678", {"phone": "+80012345678", "countryShortName": "001"}),
    ],
)
def test_phone_accepts_various_formats_and_country_hints(raw: str, value: dict[str, str]) -> None:
    assert parse("phone", raw) == cells.Cell(value, value["phone"])


@pytest.mark.parametrize(
    ("raw", "digits"),
    [("555 123 4567", "5551234567"), ("(212) 555-0123", "2125550123"), ("020.7946.0958", "02079460958"),
     ("911", "911")],
)  # fmt: skip
def test_phone_without_a_country_keeps_its_digits(raw: str, digits: str) -> None:
    # the country hint is optional: with no + either, no country's rules apply
    assert parse("phone", raw) == cells.Cell({"phone": digits, "countryShortName": ""}, digits)


@pytest.mark.parametrize(
    "raw",
    ["+1 23", "+44 20 7946 0958 US", "555 123 4567 XX", "not a phone", "+", "+1" + "5" * 200,
     "12", "1" * 18, "555-CALL-NOW", "555 123 4567 ext. 8"],
)  # fmt: skip
def test_phone_rejects_impossible_numbers(raw: str) -> None:
    assert error_of("phone", raw) == "INVALID_PHONE"


# email


def test_email_alone_uses_the_address_as_text() -> None:
    assert parse("email", "ada@acme.example.com") == cells.Cell(
        {"email": "ada@acme.example.com", "text": "ada@acme.example.com"}, "ada@acme.example.com"
    )


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Ada Lovelace <ada@x.example>", "Ada Lovelace"),
        ('"Lovelace, Ada" <ada@x.example>', "Lovelace, Ada"),
    ],
)
def test_email_with_name_keeps_the_name(raw: str, name: str) -> None:
    assert parse("email", raw) == cells.Cell(
        {"email": "ada@x.example", "text": name}, "ada@x.example"
    )


@pytest.mark.parametrize(
    "raw", ["qa@example.test", "ops@corp.local", "a@b.onion", "x@shop.invalid"]
)
def test_email_at_a_special_use_name_is_well_formed(raw: str) -> None:
    # "a valid email format": reserved names such as example.test are well formed
    assert value_of("email", raw)["email"] == raw


def test_email_domain_is_normalised() -> None:
    assert value_of("email", "Ada@EXAMPLE.COM")["email"] == "Ada@example.com"


@pytest.mark.parametrize(
    "raw", ["ada", "ada@", "ada@localhost", "a..b@x.com", "Ada <>", "Ada <not an email>"]
)
def test_email_rejects_invalid_address(raw: str) -> None:
    assert error_of("email", raw) == "INVALID_EMAIL"


# link


def test_link_alone_uses_the_url_as_text() -> None:
    assert parse("link", "https://x.example/z") == cells.Cell(
        {"url": "https://x.example/z", "text": "https://x.example/z"}, "https://x.example/z"
    )


def test_link_in_markdown_keeps_display_text() -> None:
    assert parse("link", "[Docs](https://x.example/z_(a))") == cells.Cell(
        {"url": "https://x.example/z_(a)", "text": "Docs"}, "Docs - https://x.example/z_(a)"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "x.example/z",
        "www.x.example",
        "ftp://x.example",
        "https://",
        "http:/x.example",
        "https://x.example/a b",
        "https://[::1",
        "[Docs](x.example)",
        "[Docs](https://x.example/a b)",
        "javascript:alert(1)",
    ],
)
def test_link_rejects_url_without_http_scheme_or_host(raw: str) -> None:
    assert error_of("link", raw) == "INVALID_URL"


# board_relation


def linked(*item_ids: int) -> dict[str, Any]:
    return {"linkedPulseIds": [{"linkedPulseId": item_id} for item_id in item_ids]}


def test_board_relation_accepts_ids_and_names_on_single_target() -> None:
    assert parse("board_relation", "1000, Existing lead") == cells.Cell(
        linked(1000), "Existing lead"
    )
    assert parse("board_relation", '"Acme, Inc",1000') == cells.Cell(
        linked(1001, 1000), "Acme, Inc, Existing lead"
    )


def test_board_relation_reads_doubled_quotes_inside_a_quoted_reference() -> None:
    directory = cells.Directory(items={100: {1: 'The "Big", One'}})
    cell = cells.parse_cell(COLUMNS["board_relation"], '"The ""Big"", One"', directory)
    assert cell == cells.Cell(linked(1), 'The "Big", One')


def test_board_relation_id_wins_over_item_named_with_digits() -> None:
    assert value_of("board_relation", "1000") == linked(1000)


def test_board_relation_rejects_ambiguous_name() -> None:
    assert error_of("board_relation", "Twin") == "AMBIGUOUS_ITEM"


@pytest.mark.parametrize("raw", ["Nope", "2000", "Other board item", "Acme", '"Acme, Inc" x'])
def test_board_relation_rejects_item_not_on_target_board(raw: str) -> None:
    assert error_of("board_relation", raw) == "ITEM_NOT_FOUND"


def test_board_relation_multi_target_requires_board_prefix() -> None:
    assert error_of(MULTI_RELATION, "1000") == "BOARD_PREFIX_REQUIRED"
    assert error_of(MULTI_RELATION, "Existing lead") == "BOARD_PREFIX_REQUIRED"


def test_board_relation_multi_target_accepts_prefixed_ids_and_names() -> None:
    cell = cells.parse_cell(MULTI_RELATION, "100:1000, 200:Existing lead, 200: 2000", DIRECTORY)
    assert cell == cells.Cell(
        linked(1000, 2001, 2000), "Existing lead, Existing lead, Other board item"
    )


@pytest.mark.parametrize("raw", ["300:1", "100:2000", "200:Nope"])
def test_board_relation_multi_target_rejects_other_boards_and_items(raw: str) -> None:
    assert error_of(MULTI_RELATION, raw) == "ITEM_NOT_FOUND"


def test_board_relation_without_target_board_finds_nothing() -> None:
    column = cells.Column(id="r", title="R", type="board_relation", settings={})
    assert error_of(column, "1000") == "ITEM_NOT_FOUND"


def test_board_relation_removes_duplicates_before_counting() -> None:
    assert value_of("board_relation", "1000, 1000, Existing lead") == linked(1000)


def test_board_relation_rejects_more_than_fifty_items() -> None:
    directory = cells.Directory(items={100: {item_id: f"Item {item_id}" for item_id in range(60)}})
    column = COLUMNS["board_relation"]
    fifty = ",".join(str(item_id) for item_id in range(50))
    cell = cells.parse_cell(column, fifty, directory)
    assert cell is not None
    assert cell.value == linked(*range(50))
    assert error_of(column, fifty + ",50", directory) == "TOO_MANY_ITEMS"


# checkbox


@pytest.mark.parametrize("raw", ["true", "TRUE", "yes", "Y", "1", "v", "X", "checked"])
def test_checkbox_checks_for_true_words(raw: str) -> None:
    assert parse("checkbox", raw) == cells.Cell({"checked": "true"}, "v")


@pytest.mark.parametrize("raw", ["false", "No", "n", "0", "Unchecked"])
def test_checkbox_clears_for_false_words(raw: str) -> None:
    assert parse("checkbox", raw) == cells.Cell(None, "")


@pytest.mark.parametrize("raw", ["maybe", "2", "on", "✓"])
def test_checkbox_rejects_other_words(raw: str) -> None:
    assert error_of("checkbox", raw) == "INVALID_CHECKBOX"


# Round trip: render_csv then parse gives the value back, and display_text is Cell.text

ROUND_TRIPS = [
    ("text", '  a, "quoted"  text '),
    ("long_text", "Line 1\nLine 2"),
    ("numbers", "-1.50"),
    ("currency", "1e3"),
    ("status", "Working on it"),
    ("dropdown", '"Option C", Option A'),
    ("date", "Dec 31, 2025"),
    ("date", "2025-12-31T14:30:00+01:00"),
    ("timeline", "2025-01-01/2025-02-01"),
    ("timeline", "2025-01-01"),
    ("people", 'ada@acme.example.com, "Lovelace, Ada", team:Ops, "team:R&D, Labs", user:17'),
    ("phone", "(555) 123-4567 CA"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "+800 1234 5678"),
    ("email", "Ada Lovelace <ada@x.example>"),
    ("email", '"\\"Ada\\"" <ada@x.example>'),
    ("email", "ada@x.example"),
    ("link", "[Docs](https://x.example/z)"),
    ("link", "https://x.example/z"),
    ("board_relation", '1000, "Acme, Inc", 1002, 1004'),
    ("checkbox", "yes"),
]


@pytest.mark.parametrize(("column_type", "raw"), ROUND_TRIPS)
def test_render_csv_reads_back_to_the_same_value(column_type: str, raw: str) -> None:
    column = COLUMNS[column_type]
    cell = parse(column_type, raw)
    assert cell is not None
    rendered = cells.render_csv(column, cell.value, DIRECTORY)
    assert cells.parse_cell(column, rendered, DIRECTORY) == cell
    assert cells.display_text(column, cell.value, DIRECTORY) == cell.text


def test_render_csv_of_multi_target_relation_keeps_board_prefixes() -> None:
    value = linked(1000, 2001, 1002)
    rendered = cells.render_csv(MULTI_RELATION, value, DIRECTORY)
    assert rendered == "100:Existing lead, 200:Existing lead, 100:1002"
    cell = cells.parse_cell(MULTI_RELATION, rendered, DIRECTORY)
    assert cell is not None
    assert cell.value == value


def test_render_csv_prefers_readable_references() -> None:
    value = value_of("people", "user:10, team:5, Ops, user:13")
    assert cells.render_csv(COLUMNS["people"], value, DIRECTORY) == (
        "ada@acme.example.com, team:Ops, sam1@acme.example.com"
    )
    relation = cells.render_csv(COLUMNS["board_relation"], linked(1001, 1002, 1004), DIRECTORY)
    assert relation == '"Acme, Inc", 1002, 1004'


def test_render_csv_falls_back_to_ids_for_unknown_references() -> None:
    people = {"personsAndTeams": [person(999), team(998)]}
    assert cells.render_csv(COLUMNS["people"], people, DIRECTORY) == "user:999, team:998"
    assert cells.render_csv(COLUMNS["board_relation"], linked(5), DIRECTORY) == "5"
    assert cells.display_text(COLUMNS["people"], people, DIRECTORY) == ""


def test_render_csv_of_a_cleared_value_is_empty() -> None:
    for column in COLUMNS.values():
        assert cells.render_csv(column, None, DIRECTORY) == ""
        assert cells.display_text(column, None, DIRECTORY) == ""


def test_display_text_of_status_without_label_uses_the_index() -> None:
    assert cells.display_text(COLUMNS["status"], {"index": 2}, DIRECTORY) == "Stuck"


def test_directory_finds_people_teams_and_items_by_id() -> None:
    assert DIRECTORY.person(10) == USERS[0]
    assert DIRECTORY.team(5) == TEAMS[0]
    assert DIRECTORY.item_name(2000) == "Other board item"
    assert DIRECTORY.person(1) is None
    assert DIRECTORY.team(1) is None
    assert DIRECTORY.item_name(1) is None


def test_cell_error_carries_code_and_message() -> None:
    error = cells.CellError("INVALID_NUMBER", "bad")
    assert (error.code, error.message, str(error)) == ("INVALID_NUMBER", "bad", "bad")
