"""The fast paths of phone, link and date cells against the code they short-cut.

Each fast path may decline a cell and leave it to the full parse, never disagree with it: the
same Cell, or the same CellError code and message. The full parse is the reference here.
"""

from collections.abc import Callable
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from server.imports import cells, phones

# database=None keeps hypothesis from writing an example database into the repository.
MANY = settings(max_examples=2000, deadline=None, database=None)

Outcome = cells.Cell | tuple[str, str]


def outcome(parse: Callable[[str], cells.Cell], cell: str) -> Outcome:
    try:
        return parse(cell)
    except cells.CellError as error:
        return (error.code, error.message)


# phone


def parse_phone_with_library(cell: str) -> phones.Phone:
    digits, hint = phones.split_hint(cell)
    if hint is None and not digits.startswith("+"):  # no country: the library is not asked
        return phones.without_country(digits)
    return phones.parse_with_library(digits, hint)


def phone_outcome(parse: Callable[[str], phones.Phone], cell: str) -> phones.Phone | str:
    try:
        return parse(cell)
    except phones.InvalidPhone as error:
        return error.reason


# a phone column's parser of trimmed cells, as the import runs it
PHONE_CELL = cells.compile_parser(
    cells.Column(id="phone", title="Phone", type="phone"), cells.Directory(), trimmed=True
)


def assert_phone_agrees(cell: str) -> None:
    fast, slow = phone_outcome(phones.parse, cell), phone_outcome(parse_phone_with_library, cell)
    assert fast == slow, cell
    # and what a phone column makes of it: the value, its text, or the error
    parsed = outcome(PHONE_CELL, cell)
    if isinstance(slow, str):
        assert parsed == ("INVALID_PHONE", f"'{cell}' is not a valid phone number: {slow}."), cell
    else:
        assert parsed == cells.Cell(slow, slow["phone"]), cell


def plain_phone(cell: str) -> phones.Phone | None:
    try:
        digits, hint = phones.split_hint(cell)
    except phones.InvalidPhone:
        return None
    return phones.parse_plain(digits, hint)


REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
COUNTRY_CODES = sorted(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
NUMBER_TYPES = [
    value
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
]
FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
]


def example_numbers() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    found = []
    for region in REGIONS:
        for number_type in NUMBER_TYPES:
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                found.append((region, number))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.append(("001", number))
    return found


EXAMPLES = example_numbers()


def written_forms(region: str, number: phonenumbers.PhoneNumber) -> list[str]:
    # How people write the number: international, E.164, national with the country after it,
    # the bare national significant number with the country, and with a sibling region's hint.
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    nsn = phonenumbers.national_significant_number(number)
    siblings = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[number.country_code or 0]
    forms = [
        international,
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        international.replace(" ", "-"),
        f"{national} {region}",
        f"{national} ({region.lower()})",
        f"{nsn} {region}",
        f"{international} {region}",
    ]
    forms += [f"{nsn} {sibling}" for sibling in siblings[:4] if sibling != "001"]
    forms += [f"{international} {sibling}" for sibling in siblings[:4] if sibling != "001"]
    return forms


def test_every_example_number_of_every_region_parses_as_the_library_parses_it() -> None:
    fast = 0
    for region, number in EXAMPLES:
        for cell in written_forms(region, number):
            assert_phone_agrees(cell)
            fast += plain_phone(cell) is not None
    # the bulk of these take the fast path; were it to decline everything, this would show it
    assert fast > len(EXAMPLES) * 3


SHARED_CODES = sorted(
    code for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items() if len(regions) > 1
)


def library_region(country_code: int, national: str) -> str:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
    return str(phonenumbers.region_code_for_number(number) or regions[0])


@st.composite
def shared_code_numbers(draw: st.DrawFn) -> tuple[int, str]:
    # A country code several regions share (+1, +44, +7...) and a national number: one of
    # their regions' example numbers with some digits changed, or any digits.
    code = draw(st.sampled_from(SHARED_CODES))
    examples = [
        phonenumbers.national_significant_number(number)
        for region, number in EXAMPLES
        if number.country_code == code
    ]
    national = draw(st.sampled_from(examples)) if examples else "1"
    digits = list(national)
    for _ in range(draw(st.integers(0, 3))):
        digits[draw(st.integers(0, len(digits) - 1))] = draw(st.sampled_from("0123456789"))
    national = draw(st.sampled_from(["".join(digits), draw(st.text("0123456789", max_size=14))]))
    return code, "1" + national[1:] if national[:1] in ("", "0") else national


def test_region_rules_agree_with_the_library_on_every_example_number() -> None:
    for _region, number in EXAMPLES:
        code = number.country_code or 0
        if code in SHARED_CODES and not number.italian_leading_zero:
            national = phonenumbers.national_significant_number(number)
            assert phones.region_of(code, national) == library_region(code, national)


@MANY
@given(shared_code_numbers())
def test_region_rules_agree_with_the_library_near_real_numbers(case: tuple[int, str]) -> None:
    code, national = case
    assert phones.region_of(code, national) == library_region(code, national)


SEPARATORS = ["", "", " ", " ", "-", ".", " - ", "(", ")", "  ", "/", "\u00a0", "\t", "\u2013"]
PREFIXES = ["+", "+", "+", "", "", "++", "+ ", "(+", "+(", "00", "011", "+0", "\uff0b", "8", "0"]
HINTS = [
    "",
    "",
    " US",
    " (gb)",
    "(DE)",
    " ca",
    " XX",
    " Fr",
    " (IT)",
    " RU",
    " AR",
    " BR",
    " MX",
    " JP",
    " IN",
    " AU",
    " CH",
    " KZ",
    " gg",
    " CX",
    " VA",
    " SJ",
    "\tUS",
    "US",
]
NOISE = [
    "",
    "",
    "",
    "x",
    " ext 12",
    " ext. 7",
    "#",
    "*",
    ";ext=5",
    ";phone-context=+1",
    "tel:",
    "\u0663",  # ARABIC-INDIC DIGIT THREE
    "\uff11",  # FULLWIDTH DIGIT ONE
    "a",
    "ABC",
    ",",
    ",,",
    ";",
    "/",
    "~",
    "1",
    "0",
    "\n",
]


@st.composite
def phone_cells(draw: st.DrawFn) -> str:
    groups = draw(st.lists(st.text("0123456789", min_size=1, max_size=6), max_size=6))
    number = draw(st.just("+") | st.sampled_from(PREFIXES))
    number += draw(st.sampled_from(COUNTRY_CODES) | st.text("0123456789", max_size=3))
    for group in groups:
        number += draw(st.sampled_from(SEPARATORS)) + group
    noise = draw(st.just("") | st.sampled_from(NOISE))
    at = draw(st.integers(0, len(number)))
    number = number[:at] + noise + number[at:]
    hint = draw(st.sampled_from(HINTS) | st.sampled_from(REGIONS).map(lambda region: " " + region))
    return number + hint


@st.composite
def mutated_example_cells(draw: st.DrawFn) -> str:
    # A real number of a real region, written some way, then with a digit changed, dropped or
    # added: valid, invalid, too short and too long numbers all close to real ones.
    region, number = draw(st.sampled_from(EXAMPLES))
    cell = draw(st.sampled_from(written_forms(region, number)))
    digits = [at for at, char in enumerate(cell) if char.isdigit()]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.sampled_from(digits))
        digit = draw(st.sampled_from("0123456789"))
        edit = draw(st.sampled_from(["replace", "insert", "delete"]))
        if edit == "replace":
            cell = cell[:at] + digit + cell[at + 1 :]
        elif edit == "insert":
            cell = cell[:at] + digit + cell[at:]
        else:
            cell = cell[:at] + cell[at + 1 :]
        digits = [at for at, char in enumerate(cell) if char.isdigit()] or [0]
    return cell


def split_up(draw: st.DrawFn, digits: str) -> str:
    # The digits in groups, with any of the separators between them.
    cuts = sorted(draw(st.lists(st.integers(0, len(digits)), max_size=4)))
    pieces = [
        digits[start:stop] for start, stop in zip([0, *cuts], [*cuts, len(digits)], strict=True)
    ]
    return "".join(draw(st.sampled_from(SEPARATORS)) + piece for piece in pieces)


@st.composite
def region_phone_cells(draw: st.DrawFn) -> str:
    # A number of one region, led by what parse has rules for: the country code with or
    # without +, the region's international prefix (00, 011, 810, 16...), its national prefix.
    region = draw(st.sampled_from(REGIONS))
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    code = str(metadata.country_code)
    leads = [st.just(""), st.just("+" + code), st.just(code), st.just("0")]
    if metadata.international_prefix:
        idd = st.from_regex(metadata.international_prefix, fullmatch=True)
        leads.append(idd.map(lambda prefix: prefix + code))
    if metadata.national_prefix_for_parsing:
        leads.append(st.from_regex(metadata.national_prefix_for_parsing, fullmatch=True))
    example = phonenumbers.example_number(region)
    nsn = st.text("0123456789", min_size=1, max_size=14)
    if example is not None:
        nsn |= st.just(phonenumbers.national_significant_number(example))
    siblings = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[metadata.country_code]
    hint = draw(st.sampled_from([f" {region}", f" ({region.lower()})", "", *siblings[:3]]))
    number = draw(st.one_of(leads)) + split_up(draw, draw(nsn))
    return f"{number.strip()} {hint.strip()}".strip()


@MANY
@given(region_phone_cells())
def test_the_phone_fast_path_agrees_with_phonenumbers_on_prefixed_numbers(cell: str) -> None:
    assert_phone_agrees(cell)


@MANY
@given(phone_cells())
def test_the_phone_fast_path_agrees_with_phonenumbers_on_any_digits(cell: str) -> None:
    assert_phone_agrees(cell)
    assert_phone_agrees(cell.strip())


@MANY
@given(mutated_example_cells())
def test_the_phone_fast_path_agrees_with_phonenumbers_near_real_numbers(cell: str) -> None:
    assert_phone_agrees(cell)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=40) | st.text("+0123456789 -().", max_size=120))
def test_the_phone_fast_path_agrees_with_phonenumbers_on_any_text(cell: str) -> None:
    assert_phone_agrees(cell)


def split_hint_by_search(cell: str) -> tuple[str, str | None] | str:
    """`phones.split_hint` as it was: the hint's pattern searched in every cell."""
    hint, digits = None, cell
    if match := phones._PHONE_HINT.search(cell):
        hint, digits = (match[1] or match[2]).upper(), cell[: match.start()].strip()
        if hint not in phonenumbers.SUPPORTED_REGIONS:
            return "unknown hint"
    return digits, hint


@MANY
@given(
    st.text(max_size=30)
    | st.builds(
        "".join,
        st.lists(
            st.sampled_from(["4", "1", "²", "٣", " ", "\n", "(", ")", "us", "GB", "+"]), max_size=20
        ),
    )
)
def test_splitting_a_hint_off_agrees_with_searching_every_cell(cell: str) -> None:
    cell = cell.strip() or "1"  # parse takes trimmed, non-empty cells
    try:
        split: tuple[str, str | None] | str = phones.split_hint(cell)
    except phones.InvalidPhone as error:
        assert "known country" in error.reason
        split = "unknown hint"
    assert split == split_hint_by_search(cell)


@pytest.mark.parametrize(
    ("cell", "phone", "region"),
    [
        ("+1 415 555 5374", "+14155555374", "US"),
        ("+44 20 7946 2770", "+442079462770", "GB"),
        ("+49 30 1673034", "+49301673034", "DE"),
        ("415-555-2904 US", "+14155552904", "US"),
        ("(415) 555-2904 (ca)", "+14155552904", "CA"),
        ("+1 (268) 555.0123", "+12685550123", "AG"),
        ("+1 415 555 5374 CA", "+14155555374", "CA"),
        ("+800 1234 5678", "+80012345678", "001"),
        ("30 1673034 DE", "+49301673034", "DE"),
    ],
)
def test_common_phone_shapes_take_the_fast_path(cell: str, phone: str, region: str) -> None:
    expected = {"phone": phone, "countryShortName": region}
    assert plain_phone(cell) == expected
    assert parse_phone_with_library(cell) == expected
    assert PHONE_CELL(cell) == cells.Cell(expected, phone)


@pytest.mark.parametrize(
    "cell",
    [
        "020 7946 0958 GB",  # a national prefix to strip
        "+49 (0)30 1673034",  # the same, after the country code
        "+39 06 6982 1234",  # an Italian leading zero
        "011 44 20 7946 0958 US",  # an international prefix
        "1 415 555 2904 US",  # the country code without +
        "+1 415 555 2904 ext 12",  # an extension
        "+1 415 555 2904 x12",
        "+1 415 555 29O4",  # a letter
        "+\uff11 415 555 2904",  # a fullwidth digit
        "+1 23",  # too short
        "+999 1234 5678",  # no such country code
        "+44 20 7946 0958 US",  # a hint of another country
        "1-2 DE",  # two digits are no number, even where two-digit local numbers exist
    ],
)
def test_unusual_phone_shapes_are_left_to_the_library(cell: str) -> None:
    assert plain_phone(cell) is None
    assert_phone_agrees(cell)


# link


def link_agrees(url: str) -> bool:
    # The fast path's claim, that the URL is a link, must be the full check's verdict too.
    return not cells._PLAIN_LINK.fullmatch(url) or cells._is_link(url)


ODD_URL_PARTS = st.sampled_from(
    [
        "",
        "http://",
        "https://",
        "HTTP://",
        "hTTps://",
        "http:/",
        "http:",
        "ftp://",
        "//",
        "@",
        ":",
        ":80",
        ":x",
        "[",
        "]",
        "[::1]",
        "user:pw@",
        "%",
        "#",
        "?",
        "/",
        ".",
        "-",
        "_",
        "a",
        "example.com",
        "b\u00fccher.de",
        "\u2100",  # ACCOUNT OF, a/c under NFKC
        "\u212a",  # KELVIN SIGN, k under IGNORECASE
        "\u017f",  # LATIN SMALL LETTER LONG S, s under IGNORECASE
        "\uff0f",  # FULLWIDTH SOLIDUS
        " ",
        "\t",
        "\n",
        "\r",
        "\u00a0",
        "\x00",
        "](",
        ")",
        "[x",
    ]
)


@MANY
@given(st.lists(ODD_URL_PARTS, max_size=8).map("".join))
def test_the_link_fast_path_agrees_with_urlsplit_on_odd_urls(url: str) -> None:
    assert link_agrees(url), url


@settings(max_examples=500, deadline=None, database=None)  # urls() is slow to draw
@given(urls(), st.text(max_size=10))
def test_the_link_fast_path_agrees_with_urlsplit_on_valid_urls(url: str, noise: str) -> None:
    assert link_agrees(url), url
    assert link_agrees(url + noise), url + noise
    assert link_agrees(noise + url), noise + url


@pytest.mark.parametrize(
    "url",
    [
        "https://www.acme.com/leads/17",
        "http://example.com",
        "HTTPS://Example.COM:8443/a?b=c#d",
        "https://a.b.c/path/with~tilde_and%20escapes?q=1&r=[2]",
    ],
)
def test_common_links_take_the_fast_path(url: str) -> None:
    assert cells._PLAIN_LINK.fullmatch(url)
    assert cells._is_link(url)


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://user@example.com/", True),
        ("http://[::1]:8080/", True),
        ("https://b\u00fccher.de/", True),
        ("https://\u212aelvin.example/", True),
        ("https://example.com/\u017f", True),
        ("https://example.com/a b", False),
        ("https://:80/", False),
        ("https:///path", False),
        ("http://[::1/", False),
        ("ftp://example.com/", False),
    ],
)
def test_unusual_links_are_left_to_urlsplit(url: str, valid: bool) -> None:
    assert not cells._PLAIN_LINK.fullmatch(url)
    assert cells._is_link(url) is valid


# date


def assert_date_agrees(cell: str) -> None:
    fast = cells._parse_iso_date(cell)
    reference = outcome(cells._parse_written_date, cell)
    assert fast is None or fast == reference, cell
    assert outcome(cells._parse_date, cell) == reference, cell


def two_digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda number: f"{number:02d}")


@st.composite
def date_cells(draw: st.DrawFn) -> str:
    year = draw(
        st.integers(0, 9999).map(lambda number: f"{number:04d}")
        | st.just("\uff12\uff10\uff12\uff15")
    )
    day = f"{year}-{draw(two_digits(0, 13))}-{draw(two_digits(0, 32))}"
    if draw(st.booleans()):
        separator = draw(st.sampled_from([" ", " ", "T", "t", "  ", "\t", "\n", "_"]))
        day += f"{separator}{draw(two_digits(0, 25))}:{draw(two_digits(0, 61))}"
        if draw(st.booleans()):
            day += f":{draw(two_digits(0, 61))}"
    suffix = st.sampled_from(["", "", "", " ", "Z", " pm", "+01:00", ".5", "\n", ":00", "x"])
    return day + draw(suffix)


@MANY
@given(date_cells())
def test_the_date_fast_path_agrees_with_the_full_parse_near_iso_dates(cell: str) -> None:
    assert_date_agrees(cell)


@MANY
@given(st.text("0123456789-: T.Zapm/+", max_size=30))
def test_the_date_fast_path_agrees_with_the_full_parse_on_any_digits(cell: str) -> None:
    assert_date_agrees(cell)


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("2025-12-31", {"date": "2025-12-31"}),
        ("2024-02-29 09:45", {"date": "2024-02-29", "time": "09:45:00"}),
        ("2026-01-01T23:59:59", {"date": "2026-01-01", "time": "23:59:59"}),
        ("0001-01-01 00:00", {"date": "0001-01-01", "time": "00:00:00"}),
    ],
)
def test_iso_dates_take_the_fast_path(cell: str, value: dict[str, Any]) -> None:
    expected = cells.Cell(value, " ".join(value.values()))
    assert cells._parse_iso_date(cell) == expected
    assert cells._parse_written_date(cell) == expected


@pytest.mark.parametrize(
    "cell",
    [
        "2025-02-29",
        "0000-01-01",
        "2025-12-31 24:00",
        "2025-12-31 14:60",
        "2025-12-31 14:30:60",
        "2025-12-31t14:30",
        "2025-12-31 14:30Z",
        "2025-12-31 2:30 pm",
        "31.12.2025",
        "Dec 31, 2025",
    ],
)
def test_other_dates_are_left_to_the_full_parse(cell: str) -> None:
    assert cells._parse_iso_date(cell) is None
    assert_date_agrees(cell)


# numbers

NUMBER_CHARS = "0123456789.-+eE "


@MANY
@given(
    st.text(NUMBER_CHARS, max_size=20)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str)
    | st.integers().map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
)
def test_the_number_fast_path_agrees_with_the_decimal_parse(cell: str) -> None:
    reference = outcome(cells._parse_any_number, cell)
    assert outcome(cells._parse_number, cell) == reference, cell


@pytest.mark.parametrize(
    "cell", ["0", "7", "-7", "68229", "3500.31", "-0.5", "0.001", "123456789012345.123456789012345"]
)
def test_numbers_in_normal_form_take_the_fast_path(cell: str) -> None:
    assert cells._NORMAL_NUMBER.fullmatch(cell)
    assert cells._parse_any_number(cell) == cells.Cell(cell, cell)


@pytest.mark.parametrize(
    "cell", ["-0", "+7", "07", "7.", ".5", "1.50", "1e3", "0.0", "1234567890123456", "٣"]
)
def test_other_numbers_are_left_to_the_decimal_parse(cell: str) -> None:
    assert not cells._NORMAL_NUMBER.fullmatch(cell)
