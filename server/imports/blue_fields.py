"""Blue's recognised record fields: how each is read from a CSV cell and written back.

Imports and exports share these functions, so an exported workspace imports back into the
same records. Custom fields go through `cells` like monday columns do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from server import errors
from server.imports import cells

TITLE = "Title"
LIST = "List"
DONE = "Done"
START_DATE = "Start Date"
DUE_DATE = "Due Date"
DESCRIPTION = "Description"
ASSIGNEES = "Assignees"
CREATED_AT = "Created At"
UPDATED_AT = "Updated At"
CREATED_BY = "Created By"
COLOR = "Color"
PROJECT = "Project"
TAGS = "Tags"
CURRENCY_TYPES = "Currency Types"

# the template's and the export's leading columns, in Blue's documented order
RECOGNISED = (
    TITLE, LIST, DONE, START_DATE, DUE_DATE, DESCRIPTION, ASSIGNEES,
    CREATED_AT, UPDATED_AT, CREATED_BY, COLOR, PROJECT, TAGS,
)  # fmt: skip
RECOGNISED_LOWER = {name.lower(): name for name in RECOGNISED}

_TRUE = frozenset({"true", "yes", "y", "1", "x", "done", "completed"})
_FALSE = frozenset({"false", "no", "n", "0", "", "todo", "open"})
# a spreadsheet runs a cell that starts with one of these as a formula
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# compiled once: compiling a parser (and the empty directory it reads) for every cell cost
# more than parsing the cell
_parse_date = cells.compile_parser(
    cells.Column(id="date", title="date", type="date"), cells.Directory()
)


def parse_done(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise cells.CellError(
        "INVALID_DONE", f"Done must be true or false, not {errors.shown(text.strip())}"
    )


def render_done(done: bool) -> str:
    return "true" if done else "false"


# asyncpg sends exactly these instants as PostgreSQL's -infinity and infinity (and reads those
# back as naive datetime.min and datetime.max): a cell holding one would not be stored as given
_NEGATIVE_INFINITY = dt.datetime.min.replace(tzinfo=dt.UTC)
_INFINITY = dt.datetime.max.replace(tzinfo=dt.UTC)
# every other instant of years 1 to 9999 is stored faithfully; cells carry whole seconds
EARLIEST = _NEGATIVE_INFINITY + dt.timedelta(seconds=1)
LATEST = _INFINITY.replace(microsecond=0)


def parse_timestamp(text: str) -> dt.datetime | None:
    """A date or date-time cell as an aware UTC datetime; None when empty. Refuses, as
    INVALID_DATE, an instant outside EARLIEST..LATEST."""
    cell = _parse_date(text)
    if cell is None or cell.value is None:
        return None
    day = dt.date.fromisoformat(cell.value["date"])
    clock = dt.time.fromisoformat(cell.value.get("time", "00:00:00"))
    moment = dt.datetime.combine(day, clock, tzinfo=dt.UTC)
    if not EARLIEST <= moment <= LATEST:
        raise cells.CellError(
            "INVALID_DATE",
            f"{errors.shown(text.strip())} is out of range: dates and times from "
            f"{render_timestamp(EARLIEST)} to {render_timestamp(LATEST)} (UTC) are accepted.",
        )
    return moment


def render_timestamp(moment: dt.datetime | None) -> str:
    """A stored timestamp as its cell; empty when there is none, or when it is PostgreSQL's
    -infinity or infinity (no date an import would take back)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        # asyncpg's infinity markers, or a value read without a zone: taken as UTC, since
        # astimezone would take it as local time and overflows at the ends of the calendar
        moment = moment.replace(tzinfo=dt.UTC)
    if moment in (_NEGATIVE_INFINITY, _INFINITY):
        return ""
    moment = moment.astimezone(dt.UTC)
    if moment.time() == dt.time(0, 0):
        return moment.date().isoformat()
    # isoformat, not strftime: %Y drops the leading zeros of years before 1000
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def split_names(text: str) -> list[str]:
    """Comma-separated names, trimmed, empty pieces dropped, duplicates removed in order."""
    names: list[str] = []
    # the lower-cased names kept so far, as a set: rebuilt for each piece, a cell of 16,000
    # tags took 12 s of the parsing worker (and a 1 MB one hours), every job waiting on it
    seen: set[str] = set()
    for piece in text.split(","):
        name = piece.strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


def join_names(names: Iterable[str]) -> str:
    return ", ".join(names)


def _looks_neutralised(cell: str) -> bool:
    """Whether `cell` is quotes then a formula trigger: what import reads one quote off."""
    return cell.lstrip("'").startswith(FORMULA_TRIGGERS)


def neutralise(cell: str) -> str:
    """Make a cell safe to open in a spreadsheet: a leading quote stops formula evaluation.
    A value that already starts with quotes before a trigger gets one more, since import
    reads one off: `'=x` is written `''=x` and imports back as `'=x`."""
    return "'" + cell if _looks_neutralised(cell) else cell


def unneutralise(cell: str) -> str:
    """Undo `neutralise` on import, so an exported file imports back to the same values."""
    if cell.startswith("'") and _looks_neutralised(cell):
        return cell[1:]
    return cell
