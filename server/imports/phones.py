"""Phone cells: the number a person wrote, as monday's phone value (E.164 and a country).

A fast path reads the plain shapes most cells take; phonenumbers decides everything else, and
every number the fast path takes, it takes as the library would (tests/test_cells_fastpaths.py).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import phonenumbers

MAX_CHARS = 100  # characters; longer cells are no number, and this bounds regex work
# monday's value: {"phone": "+14155550100", "countryShortName": "US"}
Phone = dict[str, str]


class InvalidPhone(Exception):
    """A cell that is no phone number; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_PHONE_HINT = re.compile(r"(?:\s+\(?([A-Za-z]{2})\)?|\(([A-Za-z]{2})\))\s*$")
# The shapes the fast path reads: ASCII digits, spaces, dashes, dots and parentheses after at
# most one leading +. For these phonenumbers.parse only drops the punctuation: no extension,
# letters, RFC 3966 parameters or a second number can be in them.
_PLAIN_PHONE = re.compile(r"(\+?)[0-9 ().-]+")
_NOT_DIGITS = str.maketrans("", "", "+ ().-")
_MAX_NSN_DIGITS = 17  # phonenumbers' longest national significant number
_COUNTRY_CODES = frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


class _PhonePlan(NamedTuple):
    """What phonenumbers consults for numbers of one country calling code."""

    country_code: int
    lengths: frozenset[int]  # numbers of national digits is_possible_number accepts
    # national_prefix_for_parsing of the code's main region: where it matches, parse may strip
    # a national prefix or carrier code, which the fast path leaves to the library
    national_prefix: re.Pattern[str] | None
    regions: tuple[str, ...]


class _PhoneRegion(NamedTuple):
    """What phonenumbers consults for a national number with this region as its hint."""

    plan: _PhonePlan
    idd: re.Pattern[str] | None  # the international prefix dialled from the region (00, 011)
    national_prefix: re.Pattern[str] | None


_PHONE_PLANS: dict[int, _PhonePlan | None] = {}
_PHONE_REGIONS: dict[str, _PhoneRegion | None] = {}


def _compile_prefix(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


def _phone_plan(country_code: int) -> _PhonePlan | None:
    if country_code not in _PHONE_PLANS:
        _PHONE_PLANS[country_code] = _read_phone_plan(country_code)
    return _PHONE_PLANS[country_code]


def _read_phone_plan(country_code: int) -> _PhonePlan | None:
    regions = tuple(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()))
    if not regions:
        return None
    # parse and is_possible_number both read the metadata of the code's main region
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, regions[0]
    )
    if metadata is None:
        return None
    # is_possible_number looks at nothing but the number of national digits: ask it once per
    # length rather than copy its rules.
    lengths = frozenset(
        length
        for length in range(1, _MAX_NSN_DIGITS + 1)
        if phonenumbers.is_possible_number(
            phonenumbers.PhoneNumber(country_code=country_code, national_number=int("1" * length))
        )
    )
    national_prefix = _compile_prefix(metadata.national_prefix_for_parsing)
    return _PhonePlan(country_code, lengths, national_prefix, regions)


def _phone_region(region: str) -> _PhoneRegion | None:
    if region not in _PHONE_REGIONS:
        _PHONE_REGIONS[region] = _read_phone_region(region)
    return _PHONE_REGIONS[region]


def _read_phone_region(region: str) -> _PhoneRegion | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.country_code is None:
        return None
    plan = _phone_plan(metadata.country_code)
    if plan is None:
        return None
    idd = _compile_prefix(metadata.international_prefix)
    return _PhoneRegion(plan, idd, _compile_prefix(metadata.national_prefix_for_parsing))


def prepare() -> None:
    """Read every country code's and region's rules now (about 0.1 s), not number by number
    during the first import (a parsing worker calls this as it starts)."""
    for country_code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        _phone_plan(country_code)
        if len(regions) > 1:
            _region_rules(country_code)
    for region in phonenumbers.SUPPORTED_REGIONS:
        _phone_region(region)


def split_hint(cell: str) -> tuple[str, str | None]:
    # The number and the upper-cased country hint that ends the cell, if any.
    if len(cell) > MAX_CHARS:
        raise InvalidPhone("too long")
    hint: str | None = None
    digits = cell
    # a hint ends in a letter or ")": most cells end in a digit, and the search costs more
    # than the rest of a plain number's parse
    if not cell[-1:].isdigit() and (match := _PHONE_HINT.search(cell)):
        hint, digits = (match[1] or match[2]).upper(), cell[: match.start()].strip()
        if hint not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidPhone(f"'{hint}' is not a known country code")
    return digits, hint


def parse(cell: str) -> Phone:
    """The phone value of a trimmed, non-empty cell; InvalidPhone when it is no number."""
    digits, hint = split_hint(cell)
    if hint is None and not digits.startswith("+"):
        return without_country(digits)
    return parse_plain(digits, hint) or parse_with_library(digits, hint)


def without_country(digits: str) -> Phone:
    """A number with neither a + and country code nor a country after it, kept as its digits
    and no country: the monday doc makes the country hint optional, and nothing says whose
    numbering rules would apply (a default country would turn a local number into another
    country's). Only its shape is checked: digits and the usual punctuation."""
    number = digits.translate(_NOT_DIGITS)
    if _PLAIN_PHONE.fullmatch(digits) is None or not 3 <= len(number) <= _MAX_NSN_DIGITS:
        raise InvalidPhone(
            "write it with 3 to 17 digits, spaces, dashes, dots or parentheses; start it with +"
            " and the country code, or end it with a country such as US"
        )
    return {"phone": number, "countryShortName": ""}


def parse_plain(digits: str, hint: str | None) -> Phone | None:
    """The value of a plain number that phonenumbers would take as it is, None when unsure.

    Declines everything whose parse could do more than drop punctuation and split off the
    country code: an international or national prefix, a leading zero, a country code
    repeated without +, anything the library would refuse. The library decides those."""
    match = _PLAIN_PHONE.fullmatch(digits)
    number = digits.translate(_NOT_DIGITS)
    if match is None or len(number) < 3:  # parse wants three digits among punctuation
        return None
    if match[1]:
        found = _split_country_code(number)
        if found is None:
            return None
        plan, national = found
        national_prefix = plan.national_prefix
        region = _phone_region(hint) if hint else None
        if hint and (region is None or region.plan.country_code != plan.country_code):
            return None
    else:
        region = _phone_region(hint) if hint else None
        if region is None or (region.idd and region.idd.match(number)):
            return None
        plan, national, national_prefix = region.plan, number, region.national_prefix
        if national.startswith(str(plan.country_code)):
            return None
    if len(national) not in plan.lengths or not 2 <= len(national) <= _MAX_NSN_DIGITS:
        return None
    if national[0] == "0" or (national_prefix and national_prefix.match(national)):
        return None
    e164 = f"+{plan.country_code}{national}"
    return {"phone": e164, "countryShortName": hint or _phone_region_of(plan, national)}


def _split_country_code(number: str) -> tuple[_PhonePlan, str] | None:
    # parse takes the shortest known country code the digits after + start with.
    if number[0] == "0":
        return None
    for size in (1, 2, 3):
        if number[:size] in _COUNTRY_CODES:
            plan = _phone_plan(int(number[:size]))
            return None if plan is None else (plan, number[size:])
    return None


def _phone_region_of(plan: _PhonePlan, national: str) -> str:
    if len(plan.regions) == 1:
        return plan.regions[0]
    # Codes such as +1 and +44 span several regions: region_code_for_number's rules, read
    # once per code (the library looks up and matches the metadata again for every number).
    for rule in _region_rules(plan.country_code):
        if rule.leading_digits is not None:
            if rule.leading_digits.match(national):
                return rule.region
        elif _matches(rule.general, national) and any(_matches(d, national) for d in rule.types):
            return rule.region
    return plan.regions[0]


def region_of(country_code: int, national: str) -> str | None:
    """The region phonenumbers.region_code_for_number names for a national number without a
    leading zero (the code's main region where it names none); None for an unknown code."""
    plan = _phone_plan(country_code)
    return None if plan is None else _phone_region_of(plan, national)


class _Desc(NamedTuple):
    """PhoneNumberDescs of one region: the national numbers of some types."""

    lengths: frozenset[int]  # empty: any length
    pattern: re.Pattern[str]


class _RegionRule(NamedTuple):
    region: str
    # where the metadata has leading digits, they alone say whether a number is the region's
    leading_digits: re.Pattern[str] | None
    general: _Desc | None
    types: tuple[_Desc, ...]  # a number of any of these types is valid in the region


_REGION_RULES: dict[int, tuple[_RegionRule, ...]] = {}
# the types _number_type_helper tries, in its order; mobile only where its pattern differs
_NUMBER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
                 "uan", "voicemail", "fixed_line")  # fmt: skip


def _region_rules(country_code: int) -> tuple[_RegionRule, ...]:
    if country_code not in _REGION_RULES:
        _REGION_RULES[country_code] = tuple(
            rule
            for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
            if (rule := _read_region_rule(region)) is not None
        )
    return _REGION_RULES[country_code]


def _read_region_rule(region: str) -> _RegionRule | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None:
        return None
    names = _NUMBER_TYPES + (() if metadata.same_mobile_and_fixed_line_pattern else ("mobile",))
    # the types' patterns joined into one per set of lengths: a number of any type will do
    patterns: dict[frozenset[int], list[str]] = {}
    for name in names:
        desc = getattr(metadata, name)
        if desc is not None and desc.national_number_pattern:  # an empty one matches nothing
            lengths = frozenset(desc.possible_length or ())
            patterns.setdefault(lengths, []).append(desc.national_number_pattern)
    general = metadata.general_desc
    return _RegionRule(
        region=region,
        leading_digits=_compile_prefix(metadata.leading_digits),
        general=_desc(frozenset(general.possible_length or ()), [general.national_number_pattern])
        if general is not None and general.national_number_pattern
        else None,
        types=tuple(_desc(lengths, group) for lengths, group in patterns.items()),
    )


def _desc(lengths: frozenset[int], patterns: list[str]) -> _Desc:
    return _Desc(lengths, re.compile("|".join(f"(?:{pattern})" for pattern in patterns)))


def _matches(desc: _Desc | None, national: str) -> bool:
    if desc is None or (desc.lengths and len(national) not in desc.lengths):
        return False
    return desc.pattern.fullmatch(national) is not None


_ERROR_TYPE = re.compile(r"^\(\d+\) ")


def _library_reason(exc: phonenumbers.NumberParseException) -> str:
    """phonenumbers' message without its error type number and final period, which the
    cell's message adds: "(1) The string supplied did not seem to be a phone number." read
    "...: (1) The string supplied did not seem to be a phone number.."."""
    reason = _ERROR_TYPE.sub("", str(exc), count=1).rstrip(". ")
    return reason[:1].lower() + reason[1:]


def parse_with_library(digits: str, hint: str | None) -> Phone:
    try:
        number = phonenumbers.parse(digits, hint)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(_library_reason(exc)) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone("it has the wrong number of digits")
    if hint is not None and phonenumbers.country_code_for_region(hint) != number.country_code:
        raise InvalidPhone(f"country {hint} does not use +{number.country_code}")
    region = hint or (
        phonenumbers.region_code_for_number(number)
        or phonenumbers.region_code_for_country_code(number.country_code or 0)
    )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return {"phone": e164, "countryShortName": region}
