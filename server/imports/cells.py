"""Parse and validate one CSV cell per column type, and render stored values back to CSV.

The import runner compiles one parser per column (`compile_parser`) and calls it for every
cell of that column; exports call `render_csv`. Stored values are monday API v2 column `value`
JSON and `Cell.text` is monday's display `text` for them. Pure functions, no I/O.

List cells (dropdown, people, board_relation) are split on commas and each piece is trimmed.
A piece that starts with a double quote runs to the matching closing quote, with `""` standing
for one quote inside it, so `"Acme, Inc",Other` holds the two references `Acme, Inc` and
`Other`; so does the name after a board id or people prefix (`500:"Acme, Inc"` is the
reference `500:Acme, Inc`). A piece whose quotes do not close properly is taken literally up
to the next comma.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import ipaddress
import re
import types
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, NoReturn

import email_validator

from server import errors, numeric_ids
from server.imports import phones

JSON = Any  # a JSON-serialisable value

MAX_LINKED_ITEMS = 50  # items per board_relation cell, monday's documented limit
_MAX_LISTED = 20  # labels or boards listed in a message
_MAX_DATE_CHARS = 64  # characters; longer cells are no date, and this bounds regex work
_MAX_EXPONENT = 100  # decimal digits either side of the point in a number


class CellError(Exception):
    """A cell that does not validate. Carries a stable code and a human message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass(frozen=True, kw_only=True)
class Column:
    id: str
    title: str
    type: str
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Person:
    id: int
    name: str
    email: str
    enabled: bool = True


@dataclasses.dataclass(frozen=True, kw_only=True)
class Team:
    id: int
    name: str


_NO_ITEMS: Mapping[int, Mapping[int, str]] = types.MappingProxyType({})
_NO_TAGS: Mapping[int, str] = types.MappingProxyType({})


def _name_key(name: str) -> str:
    # People are matched by name case-insensitively, ignoring runs of spaces: a CSV typed by
    # hand says "ada lovelace" as often as "Ada Lovelace", and both mean the same person.
    return " ".join(name.split()).casefold()


class Directory:
    """Per-account lookups loaded once per import job: people, teams, and the items of boards
    that relation columns point at."""

    def __init__(
        self,
        *,
        users: Iterable[Person] = (),
        teams: Iterable[Team] = (),
        items: Mapping[int, Mapping[int, str]] = _NO_ITEMS,
        tags: Mapping[int, str] = _NO_TAGS,
    ) -> None:
        self._users = {user.id: user for user in users}
        # the tags the board may use: id -> name, and lower-cased name -> id (a name given
        # twice resolves to the later tag: `load_directory` puts the board's own last)
        self._tag_names = dict(tags)
        self._tags_by_name = {name.strip().casefold(): tag_id for tag_id, name in tags.items()}
        self._teams = {team.id: team for team in teams}
        self._users_by_email: dict[str, list[Person]] = {}
        self._users_by_name: dict[str, list[Person]] = {}
        self._teams_by_name: dict[str, list[Team]] = {}
        for user in self._users.values():
            if user.email.strip():
                self._users_by_email.setdefault(user.email.strip().lower(), []).append(user)
            self._users_by_name.setdefault(_name_key(user.name), []).append(user)
        for team in self._teams.values():
            self._teams_by_name.setdefault(_name_key(team.name), []).append(team)
        self._item_names: dict[int, str] = {}
        self._item_boards: dict[int, int] = {}
        self._items_by_name: dict[int, dict[str, list[int]]] = {}
        for board_id, board_items in items.items():
            by_name = self._items_by_name.setdefault(board_id, {})
            for item_id, name in board_items.items():
                self._item_names[item_id] = name
                self._item_boards[item_id] = board_id
                by_name.setdefault(name, []).append(item_id)

    def person(self, person_id: int) -> Person | None:
        """Return the user with this id, enabled or not."""
        return self._users.get(person_id)

    def team(self, team_id: int) -> Team | None:
        """Return the team with this id."""
        return self._teams.get(team_id)

    def item_name(self, item_id: int) -> str | None:
        """Return the name of an item on any loaded board."""
        return self._item_names.get(item_id)

    def item_board(self, item_id: int) -> int | None:
        """Return the board that holds a loaded item."""
        return self._item_boards.get(item_id)

    def users_with_email(self, email: str) -> Sequence[Person]:
        """Return the users whose email matches, ignoring case."""
        return self._users_by_email.get(email.strip().lower(), ())

    def users_named(self, name: str) -> Sequence[Person]:
        """Return the users with this name, ignoring case and repeated spaces."""
        return self._users_by_name.get(_name_key(name), ())

    def teams_named(self, name: str) -> Sequence[Team]:
        """Return the teams with this name, ignoring case and repeated spaces."""
        return self._teams_by_name.get(_name_key(name), ())

    def tag_named(self, name: str) -> int | None:
        """Return the id of the tag with this name the board may use, ignoring case."""
        return self._tags_by_name.get(name.strip().casefold())

    def tag_name(self, tag_id: int) -> str | None:
        return self._tag_names.get(tag_id)

    def items_named(self, board_id: int, name: str) -> Sequence[int]:
        """Return the ids of the items on a board whose name is exactly `name`."""
        return self._items_by_name.get(board_id, {}).get(name, ())


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made each
# Cell cost 0.55 µs instead of 0.15 (about 2.5 µs of a bench row's 29 in the parsing worker).
# Cells are shared between rows all the same (a column's repeated cells are parsed once):
# nothing may change one.
@dataclasses.dataclass(slots=True)
class Cell:
    value: JSON | None
    text: str

    def __reduce__(self) -> tuple[type[Cell], tuple[JSON | None, str]]:
        # cells cross to the server process in chunks; a slotted dataclass otherwise unpickles
        # through dataclasses' generic __setstate__, several times slower
        return Cell, (self.value, self.text)


CellParser = Callable[[str], Cell | None]
# Takes the trimmed, non-empty cell.
_Parse = Callable[[str], Cell | None]
_Show = Callable[[Column, JSON, Directory], str]


class _Codec(NamedTuple):
    compile: Callable[[Column, Directory], _Parse]
    text: _Show
    render: _Show


def compile_parser(column: Column, directory: Directory, *, trimmed: bool = False) -> CellParser:
    """Build the parser for one column's cells: raw cell text to a `Cell`, or None for an
    empty or whitespace-only cell. The parser raises `CellError` on invalid input.
    With `trimmed`, the caller promises stripped, non-empty cells (one call fewer a cell)."""
    codec = _CODECS.get(column.type)
    if codec is None:
        # An unsupported column fails only the rows that put something in it.
        return lambda raw: _raise_unsupported(column.type) if raw.strip() else None
    parse = codec.compile(column, directory)
    if trimmed:
        return parse

    def parse_raw(raw: str) -> Cell | None:
        cell = raw.strip()
        return parse(cell) if cell else None

    return parse_raw


def parse_cell(column: Column, raw: str, directory: Directory) -> Cell | None:
    """Parse one cell; compile a parser with `compile_parser` to parse many."""
    return compile_parser(column, directory)(raw)


def render_csv(column: Column, value: JSON, directory: Directory) -> str:
    """Render a stored value as CSV cell text that `parse_cell` reads back to the same value."""
    codec = _codec(column)
    return "" if value is None else codec.render(column, value, directory)


def display_text(column: Column, value: JSON, directory: Directory) -> str:
    """Return monday's display `text` for a stored value (the `Cell.text` of its parse)."""
    codec = _codec(column)
    return "" if value is None else codec.text(column, value, directory)


def _always(parse: _Parse) -> Callable[[Column, Directory], _Parse]:
    # For the types whose parsing depends on neither the column's settings nor the directory.
    return lambda column, directory: parse


def _codec(column: Column) -> _Codec:
    codec = _CODECS.get(column.type)
    if codec is None:
        _raise_unsupported(column.type)
    return codec


def _raise_unsupported(column_type: str) -> NoReturn:
    raise CellError(
        "UNSUPPORTED_COLUMN_TYPE", f"Columns of type {_show(column_type)} cannot be imported."
    )


# Shared helpers


def _show(text: str) -> str:
    return f"'{errors.clip(text)}'"


def _show_all(texts: Iterable[str]) -> str:
    texts = list(texts)
    shown = ", ".join(_show(text) for text in texts[:_MAX_LISTED])
    more = len(texts) - _MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _field(value: JSON, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


# A reference whose name alone is quoted after its prefix: 500:"Acme, Inc" or team:"Ops, EU".
# The monday doc says to quote names that contain commas, and in board_id:item_name the name
# is what follows the board id. Only board ids and the people prefixes open such a quote, so a
# dropdown label or tag that happens to hold `:"` reads as before.
_PREFIXED_QUOTE = re.compile(r'([0-9]+|user|team)\s*:\s*"', re.IGNORECASE | re.ASCII)


def _split_list(cell: str) -> list[str]:
    if '"' not in cell:
        return [piece for piece in (part.strip() for part in cell.split(",")) if piece]
    pieces: list[str] = []
    start = 0
    while start <= len(cell):
        comma = cell.find(",", start)
        stop = len(cell) if comma < 0 else comma
        piece = cell[start:stop].strip()
        if piece.startswith('"'):
            quoted = _read_quoted(cell, cell.index('"', start))
            if quoted is not None:
                piece, stop = quoted
        elif prefixed := _PREFIXED_QUOTE.match(piece):
            quoted = _read_quoted(cell, cell.index('"', start))
            if quoted is not None:
                piece, stop = f"{prefixed[1]}:{quoted[0]}", quoted[1]
        if piece:
            pieces.append(piece)
        start = stop + 1
    return pieces


def _read_quoted(cell: str, opening: int) -> tuple[str, int] | None:
    # Returns the unescaped text and where the piece ends, or None when the quotes do not
    # close or something other than spaces follows the closing quote.
    parts: list[str] = []
    pos = opening + 1
    while True:
        closing = cell.find('"', pos)
        if closing < 0:
            return None
        parts.append(cell[pos:closing])
        if not cell.startswith('"', closing + 1):
            break
        parts.append('"')
        pos = closing + 2
    comma = cell.find(",", closing + 1)
    stop = len(cell) if comma < 0 else comma
    if cell[closing + 1 : stop].strip():
        return None
    return "".join(parts).strip(), stop


def _quote_piece(text: str) -> str:
    text = text.strip()
    if "," in text or text.startswith('"') or _PREFIXED_QUOTE.match(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _render_reference(
    candidates: Iterable[str], resolve: Callable[[str], object], target: object
) -> str:
    # The first readable form that reads back to the same entity wins; the last candidate is
    # the id form, used even when it no longer resolves (a deleted item, a disabled user).
    piece = ""
    for candidate in candidates:
        piece = _quote_piece(candidate)
        try:
            if _split_list(piece) == [candidate.strip()] and resolve(candidate.strip()) == target:
                return piece
        except CellError:
            pass
    return piece


# text and long_text


def _parse_text(cell: str) -> Cell:
    return Cell(cell, cell)


def _text_of_text(column: Column, value: JSON, directory: Directory) -> str:
    return str(value)


def _parse_long_text(cell: str) -> Cell:
    return Cell({"text": cell}, cell)


def _text_of_long_text(column: Column, value: JSON, directory: Directory) -> str:
    return str(_field(value, "text") or "")


# numbers and currency

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A number already written as its normal form (no + sign, no leading zeros, no trailing zeros
# after the point, no exponent, at most 15 digits either side of the point): its value is the
# cell itself, without a Decimal.
_NORMAL_NUMBER = re.compile(
    r"0|-?(?:[1-9][0-9]{0,14}(?:\.[0-9]{0,14}[1-9])?|0\.[0-9]{0,14}[1-9])", re.ASCII
)


def _parse_number(cell: str) -> Cell:
    if _NORMAL_NUMBER.fullmatch(cell):
        return Cell(cell, cell)
    return _parse_any_number(cell)


def _parse_any_number(cell: str) -> Cell:
    if not _NUMBER.fullmatch(cell):
        raise CellError(
            "INVALID_NUMBER",
            f"{_show(cell)} is not a number; expected an integer or decimal such as 42 or -1.5,"
            " without thousands separators.",
        )
    try:
        number = decimal.Decimal(cell)
    except decimal.InvalidOperation:
        number = decimal.Decimal("Infinity")  # an exponent too large for decimal itself
    if number.is_zero():
        return Cell("0", "0")
    if not number.is_finite() or not -_MAX_EXPONENT <= number.adjusted() <= _MAX_EXPONENT:
        raise CellError("INVALID_NUMBER", f"{_show(cell)} is too large or too small a number.")
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Cell(text, text)


# status and dropdown


class _Labels(NamedTuple):
    ids: dict[str, int]  # active label -> index (status) or 1-based position (dropdown)
    inactive: frozenset[str]
    expected: str  # the active labels, for messages


def label_list(column: Column) -> list[str | None]:
    """A status or dropdown column's labels by position, None where there is no usable
    active label."""
    return [label if active and label else None for label, active in _label_entries(column)]


def _label_entries(column: Column) -> list[tuple[str, bool]]:
    labels = column.settings.get("labels")
    entries: list[tuple[str, bool]] = []
    for entry in labels if isinstance(labels, list | tuple) else ():
        if isinstance(entry, str):
            entries.append((entry.strip(), True))
        elif isinstance(entry, Mapping) and isinstance(entry.get("label"), str):
            active = entry.get("active", True) not in (False, "false")
            entries.append((str(entry["label"]).strip(), active))
        else:
            entries.append(("", False))  # keeps the positions of the labels after it
    return entries


def _index_labels(column: Column, first_id: int) -> _Labels:
    ids: dict[str, int] = {}
    for position, label in enumerate(label_list(column), start=first_id):
        if label:
            ids.setdefault(label, position)
    inactive = frozenset(label for label, _ in _label_entries(column) if label not in ids)
    expected = f"one of {_show_all(ids)}" if ids else "nothing: the column has no active labels"
    return _Labels(ids, inactive, expected)


def _label_error(code: str, cell: str, labels: _Labels) -> CellError:
    if cell in labels.inactive:
        return CellError("INACTIVE_LABEL", f"The label {_show(cell)} is no longer active.")
    near = [label for label in labels.ids if label.casefold() == cell.casefold()]
    hint = f" Labels are case-sensitive: did you mean {_show(near[0])}?" if near else ""
    return CellError(
        code, f"{_show(cell)} is not a label of this column; expected {labels.expected}.{hint}"
    )


def _compile_status(column: Column, directory: Directory) -> _Parse:
    labels = _index_labels(column, 0)

    def parse(cell: str) -> Cell:
        index = labels.ids.get(cell)
        if index is None:
            raise _label_error("INVALID_STATUS_LABEL", cell, labels)
        return Cell({"index": index, "label": cell}, cell)

    return parse


def _text_of_status(column: Column, value: JSON, directory: Directory) -> str:
    label = _field(value, "label")
    if isinstance(label, str):
        return label
    index = _field(value, "index")
    labels = label_list(column)
    if isinstance(index, int) and 0 <= index < len(labels):
        return labels[index] or ""
    return ""


def _compile_dropdown(column: Column, directory: Directory) -> _Parse:
    labels = _index_labels(column, 1)

    def parse(cell: str) -> Cell | None:
        chosen: dict[int, str] = {}
        bad: list[str] = []
        for piece in _split_list(cell):
            label_id = labels.ids.get(piece)
            if label_id is None:
                bad.append(piece)
            else:
                chosen.setdefault(label_id, piece)
        unknown = [piece for piece in bad if piece not in labels.inactive]
        if len(unknown) > 1:
            raise CellError(
                "INVALID_DROPDOWN_LABEL",
                f"{_show_all(unknown)} are not labels of this column; expected {labels.expected}.",
            )
        if bad:
            # Unknown labels first: fixing an inactive one will not save the row while they remain.
            raise _label_error("INVALID_DROPDOWN_LABEL", (unknown or bad)[0], labels)
        if not chosen:
            return None
        return Cell({"ids": list(chosen)}, ", ".join(chosen.values()))

    return parse


def _dropdown_labels(column: Column, value: JSON) -> list[str]:
    labels, ids = label_list(column), _field(value, "ids")
    if not isinstance(ids, list):
        return []
    valid = [i for i in ids if isinstance(i, int) and 0 < i <= len(labels)]
    return [label for label in (labels[label_id - 1] for label_id in valid) if label]


def dropdown_ids(column: Column, label: str) -> list[int]:
    """The ids a dropdown value holds for `label`: every active label that reads it."""
    return [n for n, shown in enumerate(label_list(column), start=1) if shown == label]


def _text_of_dropdown(column: Column, value: JSON, directory: Directory) -> str:
    return ", ".join(_dropdown_labels(column, value))


def _render_dropdown(column: Column, value: JSON, directory: Directory) -> str:
    return ", ".join(_quote_piece(label) for label in _dropdown_labels(column, value))


# date and timeline

_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTHS = {
    **{name: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    **{name[:3]: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    "sept": 9,
}
_TIME = re.compile(
    r"(?:T|\s+)([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?\s*([ap]m)?"
    r"\s*(z|[+-][0-9]{2}(?::?[0-9]{2})?)?\Z",
    re.IGNORECASE,
)
_YEAR_FIRST = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})")
_YEAR_LAST = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})")
_MONTH_FIRST = re.compile(
    r"([a-z]+)\.?\s+([0-9]{1,2})(?:st|nd|rd|th)?(?:\s*,\s*|\s+)([0-9]{4})", re.IGNORECASE
)
_DAY_FIRST = re.compile(
    r"([0-9]{1,2})(?:st|nd|rd|th)?(?:\s+|-)([a-z]+)\.?(?:\s*,\s*|\s+|-)([0-9]{4})", re.IGNORECASE
)
# The form most cells take, time fields within their ranges: see `_parse_iso_date`.
_ISO_DATE_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?)?"
)
_ISO_DAY = r"([0-9]{4}-[0-9]{2}-[0-9]{2})"
_TIMELINE = re.compile(_ISO_DAY + r"(?:\s*/\s*" + _ISO_DAY + ")?")


def _invalid_date(cell: str) -> CellError:
    return CellError(
        "INVALID_DATE",
        f"{_show(cell)} is not a valid date; expected YYYY-MM-DD such as 2025-12-31,"
        " optionally followed by a time such as 14:30.",
    )


def _parse_date(cell: str) -> Cell:
    return _parse_iso_date(cell) or _parse_written_date(cell)


def _parse_iso_date(cell: str) -> Cell | None:
    """The cell of an existing YYYY-MM-DD day with an optional HH:MM[:SS] time, None for any
    other text: for these `_parse_written_date` would only check the numbers and copy them."""
    match = _ISO_DATE_TIME.fullmatch(cell)
    if match is None:
        return None
    day, hour, minute, second = match.groups()
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return None
    if hour is None:
        return Cell({"date": day}, day)
    time = f"{hour}:{minute}:{second or '00'}"
    return Cell({"date": day, "time": time}, f"{day} {time}")


def _parse_written_date(cell: str) -> Cell:
    if len(cell) > _MAX_DATE_CHARS:
        raise _invalid_date(cell)
    time = _TIME.search(cell)
    day = _parse_day(cell if time is None else cell[: time.start()], cell)
    if time is None:
        value = {"date": day.isoformat()}
    else:
        moment = _parse_time(time, day, cell)
        value = {"date": moment.date().isoformat(), "time": moment.strftime("%H:%M:%S")}
    return Cell(value, _date_text(value))


def _parse_day(text: str, cell: str) -> dt.date:
    # Beyond ISO, only forms that cannot be misread: year first, dotted, an English month
    # name, or a slashed or dashed day and month where one of the two is over 12 (or both
    # are equal). 01/02/2025 is refused rather than guessed; two-digit years too.
    if match := _YEAR_FIRST.fullmatch(text):
        year, month, day = int(match[1]), int(match[3]), int(match[4])
    elif match := _YEAR_LAST.fullmatch(text):
        first, second, year = int(match[1]), int(match[3]), int(match[4])
        if match[2] == ".":
            day, month = first, second  # 31.12.2025: countries that write dots put the day first
        elif first > 12 >= second:
            day, month = first, second
        elif second > 12 >= first or first == second:
            month, day = first, second
        elif first > 12:
            raise _invalid_date(cell)
        else:
            raise CellError(
                "AMBIGUOUS_DATE",
                f"{_show(cell)} could be day/month or month/day; write it as YYYY-MM-DD.",
            )
    elif match := _MONTH_FIRST.fullmatch(text):
        month, day, year = _MONTHS.get(match[1].lower(), 0), int(match[2]), int(match[3])
    elif match := _DAY_FIRST.fullmatch(text):
        day, month, year = int(match[1]), _MONTHS.get(match[2].lower(), 0), int(match[3])
    else:
        raise _invalid_date(cell)
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise _invalid_date(cell) from exc


def _parse_time(time: re.Match[str], day: dt.date, cell: str) -> dt.datetime:
    hour, minute, second = int(time[1]), int(time[2]), int(time[3] or 0)
    if time[4]:
        if not 1 <= hour <= 12:
            raise _invalid_date(cell)
        hour = hour % 12 + (12 if time[4].lower() == "pm" else 0)
    try:
        offset = _utc_offset(time[5])
        moment = dt.datetime.combine(day, dt.time(hour, minute, second))
        if offset is not None:
            # monday keeps date-column times in UTC; times without an offset are taken as UTC.
            moment = (moment - offset).replace(tzinfo=None)
    except (ValueError, OverflowError) as exc:
        raise _invalid_date(cell) from exc
    return moment


def _utc_offset(text: str | None) -> dt.timedelta | None:
    if text is None:
        return None
    if text in ("z", "Z"):
        return dt.timedelta(0)
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"no such UTC offset: {text}")
    offset = dt.timedelta(hours=hours, minutes=minutes)
    return -offset if text[0] == "-" else offset


def _date_text(value: JSON) -> str:
    day, time = _field(value, "date"), _field(value, "time")
    return f"{day} {time}" if time else str(day or "")


def _text_of_date(column: Column, value: JSON, directory: Directory) -> str:
    return _date_text(value)


def _invalid_timeline(cell: str, reason: str) -> CellError:
    return CellError("INVALID_TIMELINE", f"{_show(cell)} is not a valid timeline: {reason}.")


def _parse_timeline(cell: str) -> Cell:
    match = _TIMELINE.fullmatch(cell)
    if match is None:
        raise _invalid_timeline(cell, "expected YYYY-MM-DD/YYYY-MM-DD or a single YYYY-MM-DD")
    try:
        start = dt.date.fromisoformat(match[1])
        end = dt.date.fromisoformat(match[2] or match[1])
    except ValueError as exc:
        raise _invalid_timeline(cell, "a date does not exist") from exc
    if start > end:
        raise _invalid_timeline(cell, "it starts after it ends")
    value = {"from": start.isoformat(), "to": end.isoformat()}
    return Cell(value, f"{value['from']} - {value['to']}")


def _text_of_timeline(column: Column, value: JSON, directory: Directory) -> str:
    return f"{_field(value, 'from')} - {_field(value, 'to')}"


def _render_timeline(column: Column, value: JSON, directory: Directory) -> str:
    return f"{_field(value, 'from')}/{_field(value, 'to')}"


# people


def _positive_int(setting: Any) -> int:
    number = numeric_ids.parse_number(setting)
    return number if number is not None else 0


def _resolve_person(directory: Directory, ref: str) -> Person | Team:
    prefix, colon, rest = ref.partition(":")
    kind, rest = prefix.strip().lower(), rest.strip()
    if colon and kind == "user":
        user_id = numeric_ids.parse_id(rest)
        if user_id is None:
            return _choose_person(ref, directory.users_named(rest), ())
        user = directory.person(user_id)
        return _choose_person(ref, () if user is None else (user,), ())
    if colon and kind == "team":
        team_id = numeric_ids.parse_id(rest)
        if team_id is None:
            return _choose_person(ref, (), directory.teams_named(rest))
        team = directory.team(team_id)
        return _choose_person(ref, (), () if team is None else (team,))
    if "@" in ref:
        return _choose_person(ref, directory.users_with_email(ref), ())
    return _choose_person(ref, directory.users_named(ref), directory.teams_named(ref))


def _choose_person(ref: str, users: Sequence[Person], teams: Sequence[Team]) -> Person | Team:
    # Deactivated namesakes do not make a name ambiguous: only active users and teams count.
    found: list[Person | Team] = [user for user in users if user.enabled]
    found.extend(teams)
    if len(found) == 1:
        return found[0]
    if found:
        raise CellError(
            "AMBIGUOUS_PERSON",
            f"{_show(ref)} matches {len(found)} users or teams;"
            " use an email address, user:<id> or team:<id>.",
        )
    if users:
        raise CellError("INACTIVE_USER", f"{_show(ref)} is a deactivated user.")
    raise CellError(
        "PERSON_NOT_FOUND",
        f"No user or team matches {_show(ref)}; expected an email address, user:<id>,"
        " user:<name>, team:<id>, team:<name> or a name.",
    )


def _person_entry(entity: Person | Team) -> dict[str, Any]:
    return {"id": entity.id, "kind": "person" if isinstance(entity, Person) else "team"}


def _compile_people(column: Column, directory: Directory) -> _Parse:
    limit = _positive_int(column.settings.get("max_people_allowed"))

    def parse(cell: str) -> Cell | None:
        found: dict[tuple[bool, int], Person | Team] = {}
        for piece in _split_list(cell):
            entity = _resolve_person(directory, piece)
            found.setdefault((isinstance(entity, Person), entity.id), entity)
        if not found:
            return None
        if limit and len(found) > limit:
            raise CellError(
                "TOO_MANY_PEOPLE",
                f"{len(found)} people or teams given; this column allows at most {limit}.",
            )
        entries = [_person_entry(entity) for entity in found.values()]
        text = ", ".join(entity.name for entity in found.values())
        return Cell({"personsAndTeams": entries}, text)

    return parse


def _people_in(value: JSON, directory: Directory) -> list[tuple[str, Person | Team | None]]:
    entries = _field(value, "personsAndTeams")
    found: list[tuple[str, Person | Team | None]] = []
    for entry in entries if isinstance(entries, list) else ():
        entity_id, kind = _field(entry, "id"), _field(entry, "kind")
        if isinstance(entity_id, int):
            if kind == "team":
                found.append((f"team:{entity_id}", directory.team(entity_id)))
            else:
                found.append((f"user:{entity_id}", directory.person(entity_id)))
    return found


def _text_of_people(column: Column, value: JSON, directory: Directory) -> str:
    return ", ".join(entity.name for _, entity in _people_in(value, directory) if entity)


def _render_people(column: Column, value: JSON, directory: Directory) -> str:
    pieces = []
    for id_ref, entity in _people_in(value, directory):
        readable: list[str] = []
        if isinstance(entity, Person):
            readable = [entity.email]
        elif isinstance(entity, Team):
            readable = [f"team:{entity.name}"]
        pieces.append(
            _render_reference(
                [*readable, id_ref], lambda ref: _resolve_person(directory, ref), entity
            )
        )
    return ", ".join(pieces)


# phone


def _parse_phone(cell: str) -> Cell:
    try:
        value = phones.parse(cell)
    except phones.InvalidPhone as exc:
        raise CellError(
            "INVALID_PHONE", f"{_show(cell)} is not a valid phone number: {exc.reason}."
        ) from exc
    return Cell(value, value["phone"])


def _text_of_phone(column: Column, value: JSON, directory: Directory) -> str:
    return str(_field(value, "phone") or "")


def _render_phone(column: Column, value: JSON, directory: Directory) -> str:
    phone, region = str(_field(value, "phone") or ""), _field(value, "countryShortName")
    # The country rides along because numbering plans such as +1 span several countries.
    if isinstance(region, str) and re.fullmatch("[A-Z]{2}", region):
        return f"{phone} {region}"
    return phone


# email


# Most addresses are plain ASCII: checking those with one regex is several times faster than
# the library, which still decides every address this pattern does not take.
_PLAIN_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
# The monday doc asks for a valid email *format*, and an address at a special-use name
# (RFC 6761: example.test, corp.local) is well formed; test fixtures are full of them. The
# library refuses those names while they are on this list of its, which it invites
# applications to change.
email_validator.SPECIAL_USE_DOMAIN_NAMES[:] = []
# mailbox names the library lowercases (RFC 2142: postmaster, www...) are left to it; a
# library without that list gets no fast path at all
_LOWERCASED_MAILBOXES: frozenset[str] | None
try:
    from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

    _LOWERCASED_MAILBOXES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
except ImportError:
    _LOWERCASED_MAILBOXES = None


def _plain_email(address: str) -> str | None:
    """The normalised address when it is plain ASCII the library would accept as it is."""
    if _LOWERCASED_MAILBOXES is None:
        return None
    match = _PLAIN_EMAIL.fullmatch(address)
    if match is None or len(address) > 254 or len(match["local"]) > 64:
        return None
    if match["local"].lower() in _LOWERCASED_MAILBOXES:
        return None
    domain = match["domain"].lower()
    if "--" in domain:  # punycode and reserved labels: the library has its own rules for them
        return None
    return f"{match['local']}@{domain}"


def _parse_email(cell: str) -> Cell:
    name, address = "", cell
    if cell.endswith(">") and "<" in cell:
        bracket = cell.rindex("<")
        name, address = cell[:bracket].strip(), cell[bracket + 1 : -1].strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1]
    try:
        email = (
            _plain_email(address)
            or email_validator.validate_email(address, check_deliverability=False).normalized
        )
    except email_validator.EmailNotValidError as exc:
        raise CellError(
            "INVALID_EMAIL", f"{_show(address)} is not a valid email address: {exc}"
        ) from exc
    return Cell({"email": email, "text": name or email}, email)


def _text_of_email(column: Column, value: JSON, directory: Directory) -> str:
    return str(_field(value, "email") or "")


def _render_email(column: Column, value: JSON, directory: Directory) -> str:
    email, name = str(_field(value, "email") or ""), _field(value, "text")
    if not isinstance(name, str) or not name or name == email:
        return email
    if name != name.strip() or (len(name) >= 2 and name[0] == name[-1] == '"'):
        name = f'"{name}"'  # the parser strips one pair of quotes and the spaces outside them
    return f"{name} <{email}>"


# link

_HTTP = re.compile(r"https?://", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s")
# Printable ASCII after an http(s):// and a plain host of valid labels with a port of up to 4
# digits: urlsplit finds that host and port, so `_is_link` holds without the cost of
# splitting. Anything else is left to `_is_link`. re.ASCII: without it IGNORECASE lets [a-z]
# match the Kelvin sign and other non-ASCII letters.
_PLAIN_LINK = re.compile(
    r"https?://(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*"
    r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?(?::[0-9]{0,4})?(?:[/?#][!-~]*)?",
    re.IGNORECASE | re.ASCII,
)
# One label of a host name: letters or digits (any script: an IDN host), hyphens inside, and
# underscores, which DNS names such as _dmarc or my_host.example.com carry in practice.
_HOST_LABEL = re.compile(r"\w(?:[\w-]{0,61}\w)?")


def _parse_link(cell: str) -> Cell:
    text, url = "", cell
    # [text](url): a URL holds no "](" and no whitespace, so the last "](" splits the two.
    split = cell.rfind("](")
    markdown = cell.startswith("[") and cell.endswith(")") and split > 0
    if markdown and not _WHITESPACE.search(cell, split + 2, len(cell) - 1):
        text, url = cell[1:split].strip(), cell[split + 2 : -1]
    if not (_PLAIN_LINK.fullmatch(url) or _is_link(url)):
        raise CellError(
            "INVALID_URL",
            f"{_show(url)} is not a valid link; expected a URL starting with http:// or"
            " https://, or [text](URL).",
        )
    text = text or url
    return Cell({"url": url, "text": text}, f"{text} - {url}" if text != url else url)


def _is_link(url: str) -> bool:
    if not _HTTP.match(url) or _WHITESPACE.search(url):
        return False
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or past 65535
    except ValueError:
        return False
    return _is_host(parts.hostname or "")


def _is_host(host: str) -> bool:
    """A host a link can name: an IP address, or dot-separated labels (one final dot allowed,
    the root). urlsplit takes any text as the host: `https://a..b`, `https://*.com` or
    `https://exa%20mple.com` name no host that can exist."""
    if ":" in host:  # only an IPv6 literal, from inside [brackets], holds a colon here
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    labels = host.removesuffix(".").split(".")
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


def _link_text(value: JSON) -> str:
    url, text = str(_field(value, "url") or ""), _field(value, "text")
    return f"{text} - {url}" if isinstance(text, str) and text and text != url else url


def _text_of_link(column: Column, value: JSON, directory: Directory) -> str:
    return _link_text(value)


def _render_link(column: Column, value: JSON, directory: Directory) -> str:
    url, text = str(_field(value, "url") or ""), _field(value, "text")
    return f"[{text}]({url})" if isinstance(text, str) and text and text != url else url


# board_relation


def _board_ids(column: Column) -> list[int]:
    boards = column.settings.get("board_ids")
    found: dict[int, None] = {}
    for board in boards if isinstance(boards, list | tuple) else ():
        board_id = numeric_ids.parse_id(board)
        if board_id is not None:
            found[board_id] = None
    return list(found)


def _item_resolver(column: Column, directory: Directory) -> Callable[[str], int]:
    boards = _board_ids(column)
    listed = _show_all(str(board) for board in boards)

    def resolve(ref: str) -> int:
        prefix, colon, key = ref.partition(":")
        board = numeric_ids.parse_id(prefix.strip()) if colon else None
        if len(boards) == 1:
            try:
                return _find_item(directory, boards[0], ref, ref)
            except CellError:
                # the board_id:item form multi-board columns require, with this column's one
                # board: a client may write every relation that way (an item named so wins)
                if board != boards[0]:
                    raise
            return _find_item(directory, board, key.strip(), ref)
        if not boards:
            raise CellError("ITEM_NOT_FOUND", "This column is not connected to any board.")
        if board is None:
            raise CellError(
                "BOARD_PREFIX_REQUIRED",
                f"{_show(ref)} needs its board: this column connects boards {listed},"
                " so write board_id:item_id or board_id:item_name.",
            )
        if board not in boards:
            raise CellError(
                "ITEM_NOT_FOUND",
                f"Board {board} in {_show(ref)} is not connected to this column;"
                f" expected one of {listed}.",
            )
        return _find_item(directory, board, key.strip(), ref)

    return resolve


def _find_item(directory: Directory, board: int, key: str, ref: str) -> int:
    # An id wins over an item that happens to be named with digits.
    item_id = numeric_ids.parse_id(key)
    if item_id is not None and directory.item_board(item_id) == board:
        return item_id
    named = directory.items_named(board, key)
    if len(named) == 1:
        return named[0]
    if named:
        raise CellError(
            "AMBIGUOUS_ITEM",
            f"{len(named)} items on board {board} are named {_show(key)}; use the item id.",
        )
    raise CellError("ITEM_NOT_FOUND", f"No item {_show(key)} on board {board}.")


def _compile_board_relation(column: Column, directory: Directory) -> _Parse:
    resolve = _item_resolver(column, directory)

    def parse(cell: str) -> Cell | None:
        found = dict.fromkeys(resolve(piece) for piece in _split_list(cell))
        if not found:
            return None
        if len(found) > MAX_LINKED_ITEMS:
            raise CellError(
                "TOO_MANY_ITEMS",
                f"{len(found)} items given; a cell links at most {MAX_LINKED_ITEMS} items.",
            )
        value = {"linkedPulseIds": [{"linkedPulseId": item_id} for item_id in found]}
        return Cell(value, ", ".join(directory.item_name(item_id) or "" for item_id in found))

    return parse


def _linked_items(value: JSON) -> list[int]:
    links = _field(value, "linkedPulseIds")
    return [
        item_id
        for link in (links if isinstance(links, list) else ())
        for item_id in (_field(link, "linkedPulseId"),)
        if isinstance(item_id, int)
    ]


def _text_of_board_relation(column: Column, value: JSON, directory: Directory) -> str:
    names = (directory.item_name(item_id) for item_id in _linked_items(value))
    return ", ".join(name for name in names if name is not None)


def _render_board_relation(column: Column, value: JSON, directory: Directory) -> str:
    resolve = _item_resolver(column, directory)
    prefixed = len(_board_ids(column)) != 1
    pieces = []
    for item_id in _linked_items(value):
        name, board = directory.item_name(item_id), directory.item_board(item_id)
        prefix = f"{board}:" if prefixed and board is not None else ""
        readable = [] if name is None else [prefix + name]
        pieces.append(_render_reference([*readable, f"{prefix}{item_id}"], resolve, item_id))
    return ", ".join(pieces)


# checkbox

_CHECKED = frozenset({"true", "yes", "y", "1", "v", "x", "checked"})
_UNCHECKED = frozenset({"false", "no", "n", "0", "unchecked"})


def _parse_checkbox(cell: str) -> Cell:
    word = cell.lower()
    if word in _CHECKED:
        return Cell({"checked": "true"}, "v")
    if word in _UNCHECKED:
        return Cell(None, "")
    raise CellError(
        "INVALID_CHECKBOX",
        f"{_show(cell)} is not a checkbox value; expected true, yes, y, 1, v, x or checked to"
        " check it, or false, no, n, 0 or unchecked to clear it.",
    )


def _text_of_checkbox(column: Column, value: JSON, directory: Directory) -> str:
    return "v" if _field(value, "checked") in ("true", True) else ""


# tags


def _compile_tags(column: Column, directory: Directory) -> _Parse:
    def parse(cell: str) -> Cell | None:
        tag_ids: list[int] = []
        for name in _split_list(cell):
            tag_id = directory.tag_named(name)
            if tag_id is None:
                raise CellError(
                    "TAG_NOT_FOUND",
                    f"{_show(name)} is not a tag of this account or board; create it first"
                    " (create_or_get_tag).",
                )
            if tag_id not in tag_ids:
                tag_ids.append(tag_id)
        if not tag_ids:
            return None
        return Cell({"tag_ids": tag_ids}, _text_of_tags(column, {"tag_ids": tag_ids}, directory))

    return parse


def _tag_ids(value: JSON) -> list[int]:
    ids = _field(value, "tag_ids")
    return [i for i in (ids if isinstance(ids, list) else ()) if isinstance(i, int)]


def _text_of_tags(column: Column, value: JSON, directory: Directory) -> str:
    names = (directory.tag_name(tag_id) for tag_id in _tag_ids(value))
    return ", ".join(name for name in names if name is not None)


def _render_tags(column: Column, value: JSON, directory: Directory) -> str:
    pieces = []
    for tag_id in _tag_ids(value):
        name = directory.tag_name(tag_id)
        if name is None:  # an unknown id must not vanish: it reads back as an unknown tag
            # another board's private tag reads as unknown too: it is no tag of this board
            raise CellError("TAG_NOT_FOUND", f"{tag_id} is not a tag of this account or board.")
        pieces.append(_quote_piece(name))
    return ", ".join(pieces)


_CODECS: dict[str, _Codec] = {
    "text": _Codec(_always(_parse_text), _text_of_text, _text_of_text),
    "long_text": _Codec(_always(_parse_long_text), _text_of_long_text, _text_of_long_text),
    "numbers": _Codec(_always(_parse_number), _text_of_text, _text_of_text),
    "currency": _Codec(_always(_parse_number), _text_of_text, _text_of_text),
    "status": _Codec(_compile_status, _text_of_status, _text_of_status),
    "dropdown": _Codec(_compile_dropdown, _text_of_dropdown, _render_dropdown),
    "date": _Codec(_always(_parse_date), _text_of_date, _text_of_date),
    "timeline": _Codec(_always(_parse_timeline), _text_of_timeline, _render_timeline),
    "people": _Codec(_compile_people, _text_of_people, _render_people),
    "phone": _Codec(_always(_parse_phone), _text_of_phone, _render_phone),
    "email": _Codec(_always(_parse_email), _text_of_email, _render_email),
    "link": _Codec(_always(_parse_link), _text_of_link, _render_link),
    "board_relation": _Codec(
        _compile_board_relation, _text_of_board_relation, _render_board_relation
    ),
    "checkbox": _Codec(_always(_parse_checkbox), _text_of_checkbox, _text_of_checkbox),
    "tags": _Codec(_compile_tags, _text_of_tags, _render_tags),
}
