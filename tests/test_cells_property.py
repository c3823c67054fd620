import datetime as dt
import decimal
from typing import Any

import email_validator
import phonenumbers
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from server.imports import cells

# database=None keeps hypothesis from writing an example database into the repository.
QUICK = settings(max_examples=200, deadline=None, database=None)

DIRECTORY = cells.Directory(
    users=[
        cells.Person(id=10, name="Ada", email="ada@example.com"),
        cells.Person(id=11, name="Ada", email="ada2@example.com"),
        cells.Person(id=12, name="Bob", email="bob@example.com", enabled=False),
        cells.Person(id=13, name="a", email="a@example.com"),
    ],
    teams=[cells.Team(id=5, name="Ops"), cells.Team(id=6, name="b")],
    items={100: {1: "a", 2: "b", 3: "b", 4: "1"}, 200: {5: "c", 6: "a"}},
)
STATUS_LABELS: list[Any] = ["a", "Done", "b, c", {"label": "Old", "active": False}]
DROPDOWN_LABELS: list[Any] = ["a", "b", '"c"', "d, e", {"label": "f", "active": False}]
SETTINGS: dict[str, dict[str, Any]] = {
    "status": {"labels": STATUS_LABELS},
    "dropdown": {"labels": DROPDOWN_LABELS},
    "board_relation": {"board_ids": [100]},
}
TYPES = [
    "text",
    "long_text",
    "numbers",
    "currency",
    "status",
    "dropdown",
    "date",
    "timeline",
    "people",
    "phone",
    "email",
    "link",
    "board_relation",
    "checkbox",
]
COLUMNS = {
    column_type: cells.Column(
        id=column_type, title=column_type, type=column_type, settings=SETTINGS.get(column_type, {})
    )
    for column_type in TYPES
}
ALL_COLUMNS = [
    *COLUMNS.values(),
    cells.Column(
        id="multi", title="Multi", type="board_relation", settings={"board_ids": [100, 200]}
    ),
    cells.Column(id="owner", title="Owner", type="people", settings={"max_people_allowed": 1}),
    cells.Column(id="formula", title="Formula", type="formula", settings={}),
    cells.Column(id="odd", title="Odd", type="status", settings={"labels": "not a list"}),
]
PARSERS = [(column, cells.compile_parser(column, DIRECTORY)) for column in ALL_COLUMNS]


def assert_round_trip(
    column: cells.Column, cell: cells.Cell | None, directory: cells.Directory = DIRECTORY
) -> None:
    if cell is None or cell.value is None:
        return
    rendered = cells.render_csv(column, cell.value, directory)
    assert cells.parse_cell(column, rendered, directory) == cell
    assert cells.display_text(column, cell.value, directory) == cell.text


def parsed(column: cells.Column, raw: str, directory: cells.Directory = DIRECTORY) -> cells.Cell:
    cell = cells.parse_cell(column, raw, directory)
    assert cell is not None
    return cell


def assert_value_round_trips(
    column: cells.Column, value: Any, directory: cells.Directory = DIRECTORY
) -> None:
    cell = parsed(column, cells.render_csv(column, value, directory), directory)
    assert cell.value == value
    assert_round_trip(column, cell, directory)


def parse_or_none(column: cells.Column, raw: str) -> cells.Cell | None:
    try:
        return cells.parse_cell(column, raw, DIRECTORY)
    except cells.CellError:
        return None


def check_every_parser(raw: str) -> None:
    for column, parser in PARSERS:
        try:
            cell = parser(raw)
        except cells.CellError as error:
            assert error.code.isupper()
            assert error.message
            continue
        assert cell is None or isinstance(cell, cells.Cell)
        if column.type != "formula":
            assert_round_trip(column, cell)


@QUICK
@given(st.text())
def test_any_text_parses_to_a_cell_or_none_or_a_cell_error(raw: str) -> None:
    check_every_parser(raw)


@QUICK
@given(st.text(alphabet=st.sampled_from(' ,"abc1:@<>[]()/-.'), max_size=30))
def test_text_built_from_separators_parses_or_fails_cleanly(raw: str) -> None:
    check_every_parser(raw)


@QUICK
@given(st.text().map(str.strip).filter(bool), st.sampled_from(["text", "long_text"]))
def test_text_round_trips(text: str, column_type: str) -> None:
    cell = parsed(COLUMNS[column_type], text)
    assert cell.text == text
    assert_round_trip(COLUMNS[column_type], cell)


@QUICK
@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**30), max_value=10**30)
    | st.integers().map(decimal.Decimal),
    st.sampled_from(["numbers", "currency"]),
)
def test_numbers_keep_their_value_and_round_trip(number: decimal.Decimal, column_type: str) -> None:
    assume(abs(number.adjusted()) <= 100)
    cell = parsed(COLUMNS[column_type], str(number))
    assert decimal.Decimal(str(cell.value)) == number
    assert_round_trip(COLUMNS[column_type], cell)


def active_labels(labels: list[Any]) -> list[str]:
    return [label for label in labels if isinstance(label, str)]


@QUICK
@given(st.sampled_from(active_labels(STATUS_LABELS)), st.sampled_from(["", " ", "\t"]))
def test_status_labels_round_trip(label: str, padding: str) -> None:
    cell = parsed(COLUMNS["status"], padding + label + padding)
    assert cell.value == {"index": STATUS_LABELS.index(label), "label": label}
    assert_round_trip(COLUMNS["status"], cell)


@QUICK
@given(
    st.lists(st.text().map(str.strip).filter(bool), min_size=1, max_size=8, unique=True),
    st.data(),
)
def test_dropdown_with_any_labels_round_trips(labels: list[str], data: st.DataObject) -> None:
    column = cells.Column(id="d", title="D", type="dropdown", settings={"labels": labels})
    ids = data.draw(st.lists(st.integers(1, len(labels)), min_size=1, unique=True))
    assert_value_round_trips(column, {"ids": ids})


@QUICK
@given(st.lists(st.sampled_from(active_labels(DROPDOWN_LABELS)), min_size=1))
def test_dropdown_labels_round_trip(labels: list[str]) -> None:
    quoted = ('"' + label.replace('"', '""') + '"' for label in labels)
    cell = parsed(COLUMNS["dropdown"], " , ".join(quoted))
    assert cell.value == {
        "ids": [DROPDOWN_LABELS.index(label) + 1 for label in dict.fromkeys(labels)]
    }
    assert_round_trip(COLUMNS["dropdown"], cell)


DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%b %d, %Y", "%d %B %Y", "%B %d %Y"]


@QUICK
@given(
    st.dates(min_value=dt.date(1000, 1, 1)),
    st.sampled_from(DATE_FORMATS),
    st.none() | st.times().map(lambda time: time.replace(microsecond=0)),
)
def test_dates_in_any_accepted_format_round_trip(
    day: dt.date, date_format: str, time: dt.time | None
) -> None:
    raw = day.strftime(date_format) + ("" if time is None else time.strftime(" %H:%M:%S"))
    cell = parsed(COLUMNS["date"], raw)
    expected = {"date": day.isoformat()}
    if time is not None:
        expected["time"] = time.isoformat()
    assert cell.value == expected
    assert_round_trip(COLUMNS["date"], cell)


@QUICK
@given(st.dates(min_value=dt.date(1000, 1, 1)), st.dates(min_value=dt.date(1000, 1, 1)))
def test_timelines_round_trip(first: dt.date, second: dt.date) -> None:
    start, end = sorted([first, second])
    cell = parsed(COLUMNS["timeline"], f"{start}/{end}")
    assert cell.value == {"from": start.isoformat(), "to": end.isoformat()}
    assert_round_trip(COLUMNS["timeline"], cell)


@QUICK
@given(
    st.lists(st.text(), min_size=1, max_size=6),
    st.lists(st.text(), max_size=4),
    st.data(),
)
def test_people_with_any_names_round_trip(
    user_names: list[str], team_names: list[str], data: st.DataObject
) -> None:
    users = [
        cells.Person(id=index, name=name, email=f"user{index}@example.com")
        for index, name in enumerate(user_names, start=1)
    ]
    teams = [cells.Team(id=index, name=name) for index, name in enumerate(team_names, start=1)]
    directory = cells.Directory(users=users, teams=teams)
    entries = [{"id": user.id, "kind": "person"} for user in users]
    entries += [{"id": team.id, "kind": "team"} for team in teams]
    chosen = data.draw(st.lists(st.sampled_from(entries), min_size=1, unique_by=str))
    assert_value_round_trips(COLUMNS["people"], {"personsAndTeams": chosen}, directory)


PHONE_REGIONS = sorted(
    region
    for region in phonenumbers.SUPPORTED_REGIONS
    if phonenumbers.example_number(region) is not None
)


@QUICK
@given(st.sampled_from(PHONE_REGIONS), st.sampled_from(["+", "hint"]))
def test_example_phone_numbers_round_trip(region: str, style: str) -> None:
    number = phonenumbers.example_number(region)
    assert number is not None
    if style == "+":
        raw = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    else:
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        raw = f"{national} ({region})"
    cell = parsed(COLUMNS["phone"], raw)
    value: Any = cell.value
    assert value["phone"] == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert_round_trip(COLUMNS["phone"], cell)


@QUICK
@given(st.emails(), st.text(max_size=20))
def test_valid_emails_round_trip(email: str, name: str) -> None:
    for raw in (email, f"{name} <{email}>"):
        cell = parse_or_none(COLUMNS["email"], raw)
        assume(cell is not None)
        assert_round_trip(COLUMNS["email"], cell)


@QUICK
@given(urls(), st.text(max_size=20))
def test_valid_links_round_trip(url: str, text: str) -> None:
    for raw in (url, f"[{text}]({url})"):
        cell = parsed(COLUMNS["link"], raw)
        value: Any = cell.value
        assert value["url"] == url
        assert_round_trip(COLUMNS["link"], cell)


@QUICK
@given(
    st.lists(st.text(), min_size=1, max_size=8),
    st.lists(st.text(), max_size=4),
    st.booleans(),
    st.data(),
)
def test_board_relations_with_any_item_names_round_trip(
    names: list[str], other_names: list[str], multi: bool, data: st.DataObject
) -> None:
    items = {
        10: {1000 + index: name for index, name in enumerate(names)},
        20: {2000 + index: name for index, name in enumerate(other_names)},
    }
    directory = cells.Directory(items=items)
    boards = [10, 20] if multi else [10]
    column = cells.Column(id="r", title="R", type="board_relation", settings={"board_ids": boards})
    candidates = [item for board in boards for item in items[board]]
    chosen = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=50, unique=True))
    value = {"linkedPulseIds": [{"linkedPulseId": item_id} for item_id in chosen]}
    assert_value_round_trips(column, value, directory)


@QUICK
@given(
    st.sampled_from(["true", "yes", "y", "1", "v", "x", "checked"]).flatmap(
        lambda word: st.sampled_from([word, word.upper(), word.title()])
    )
)
def test_checked_words_round_trip(word: str) -> None:
    cell = cells.parse_cell(COLUMNS["checkbox"], word, DIRECTORY)
    assert cell == cells.Cell({"checked": "true"}, "v")
    assert_round_trip(COLUMNS["checkbox"], cell)


_LOCAL = st.one_of(
    st.from_regex(r"[A-Za-z0-9._%+!#$&'*=?^`{|}~-]{1,70}", fullmatch=True),
    st.sampled_from(["WWW", "Postmaster", "abuse", "a..b", ".a", "a.", "x" * 64, "x" * 65]),
)
_DOMAIN = st.one_of(
    st.from_regex(r"([A-Za-z0-9-]{1,20}\.){1,3}[A-Za-z0-9]{1,8}", fullmatch=True),
    st.from_regex(r"([a-z0-9-]{1,63}\.){1,5}[a-zA-Z]{2,63}", fullmatch=True),
    st.sampled_from(
        [
            "x.local",
            "LOCALHOST",
            "a.test",
            "xn--bcher-kva.ch",
            "a.onion",
            "com",
            "b.Arpa",
            "xtest.io",
        ]
    ),
)


@settings(max_examples=1000, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN)
def test_the_plain_email_fast_path_agrees_with_email_validator(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    fast = cells._plain_email(address)
    try:
        slow: str | None = email_validator.validate_email(
            address, check_deliverability=False
        ).normalized
    except email_validator.EmailNotValidError:
        slow = None
    if fast is not None:  # the fast path may decline, never disagree
        assert fast == slow, address
