"""monday API v2 column values: the JSON a mutation sends, turned into what an import stores.

Each documented JSON format is rewritten as the CSV cell an import of the same value would
hold and parsed by `cells.parse_cell`, so validation, the stored `value` and the `text` are
the import's own and the two ways in cannot drift apart. Structured formats go through
`cells.render_csv`, the export's writer of CSV cells. A plain string is read as a CSV cell.
`""`, `{}` and null clear the column. Two checks are the mutations' own: monday documents
long text values of up to 2000 characters for them, and none for its file imports; and an
object without a key its format cannot do without (a "time" without its "date") is refused
by name, where the CSV cell would have a hole. Date objects name the field that is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from server import numeric_ids
from server.errors import AppError, BadUserInput, clip, shown
from server.imports import cells

MAX_LONG_TEXT = 2000  # characters of a long text value, as monday documents
# levels of arrays and objects in one JSON argument; orjson, which echoes and stores the
# value, gives up past 254, and no column value, setting or payload needs more than a few
MAX_JSON_DEPTH = 64
INT_RANGE = (-(2**63), 2**64 - 1)  # the integers orjson writes: a signed or unsigned 64-bit one

Convert = Callable[[cells.Column, Any, cells.Directory], cells.Cell | None]


class ColumnValueError(AppError):
    """A column value monday would refuse; monday's own error code for it."""

    code = "ColumnValueException"


class MissingLabels(ColumnValueError):
    """Status or dropdown labels the column does not have (create_labels_if_missing adds them)."""

    def __init__(self, message: str, *, labels: list[str], error_data: dict[str, Any]) -> None:
        super().__init__(message, error_data=error_data)
        self.labels = labels


def decode(raw: Any, argument: str = "value") -> Any:
    """A value as a client sent it: JSON text decoded; text that is no JSON (a plain CSV
    cell) and values sent as JSON objects in variables taken as they are. BadUserInput when
    it nests deeper than MAX_JSON_DEPTH."""
    value = raw
    if isinstance(raw, str):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    if _depth_over(value, MAX_JSON_DEPTH):
        raise BadUserInput(
            f"{argument} nests arrays and objects more than {MAX_JSON_DEPTH} levels deep",
            error_data={argument: None},
        )
    # JSON text came through orjson, which reads an integer past 64 bits as a float already
    return value if isinstance(raw, str) else _narrowed(value, argument)


def _narrowed(value: Any, argument: str) -> Any:
    """`value` with its integers past 64 bits as floats, as orjson reads them from JSON text:
    a GraphQL literal or a variable brought them as ints, which orjson (echoing and storing values)
    cannot write. Changed in place; `value` is the request's own, decoded for it."""

    def narrow(node: Any) -> Any:
        if type(node) is not int or INT_RANGE[0] <= node <= INT_RANGE[1]:
            return node
        try:
            return float(node)
        except OverflowError:
            raise BadUserInput(
                f"{argument} holds a number past the range of a double (1.8e308)",
                error_data={argument: None},
            ) from None

    value = narrow(value)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            for key, child in node.items() if isinstance(node, dict) else enumerate(node):
                node[key] = narrow(child)
                stack.append(child)
    return value


def _depth_over(value: Any, limit: int) -> bool:
    """Whether a decoded JSON value nests deeper than `limit`; walked with a stack, as
    variables may nest deeper than Python recurses."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth == limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def decode_object(raw: Any, argument: str) -> dict[str, Any]:
    """`column_values`: a JSON object (or its text) keyed by column id."""
    value = decode(raw, argument)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise BadUserInput(
            f"{argument} must be a JSON object keyed by column id, such as "
            '{"status": {"label": "Done"}}',
            error_data={argument: _shown(value)},
        )
    return value


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def from_json(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
    """The stored value and text for a v2 JSON value; None (or a Cell with value None)
    clears the column. Raises ColumnValueError for a value the column refuses."""
    if is_empty(value):
        return None
    convert = _CONVERTERS.get(column.type, _scalar)
    try:
        cell = convert(column, value, directory)
    except cells.CellError as exc:
        raise _refused(column, value, exc.message, reason=exc.code) from exc
    if cell is not None and ("\x00" in cell.text or b"\\u0000" in orjson.dumps(cell.value)):
        # PostgreSQL stores U+0000 in a json document but cannot read it back as jsonb
        raise _refused(
            column,
            value,
            "Values may not contain the NUL character (U+0000).",
            reason="NUL_CHARACTER",
        )
    return cell


def _refused(column: cells.Column, value: Any, message: str, **extra: Any) -> ColumnValueError:
    return ColumnValueError(message, error_data=_error_data(column, value, **extra))


def _error_data(column: cells.Column, value: Any, **extra: Any) -> dict[str, Any]:
    return {
        "column_id": column.id,
        "column_type": column.type,
        "column_value": _shown(value),
        **extra,
    }


def _shown(value: Any) -> str:
    return clip(value if isinstance(value, str) else orjson.dumps(value).decode())


def _text_of(column: cells.Column, value: Any) -> str:
    """A scalar as the cell text an import would read."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _refused(column, value, f"Column {column.id!r} ({column.type}) expects a string.")


def _parse(column: cells.Column, text: str, directory: cells.Directory) -> cells.Cell | None:
    return cells.parse_cell(column, text, directory)


def _object(column: cells.Column, value: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The JSON object of a structured format (also sent as JSON text inside a string);
    None for a plain string, which is a CSV cell."""
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped.startswith("{"):
            return None
        value = decode(stripped)
    if isinstance(value, dict) and any(key in value for key in keys):
        return value
    expected = " or ".join(f'"{key}"' for key in keys)
    raise _refused(
        column, value, f"Column {column.id!r} ({column.type}) expects an object with {expected}."
    )


# text, numbers, currency and long text


def _scalar(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
    return _parse(column, _text_of(column, value), directory)


def _long_text(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
    found = _object(column, value, ("text",)) if not isinstance(value, str) else None
    text = value if found is None else found.get("text")
    if is_empty(text):
        return None
    text = _text_of(column, text)
    if len(text) > MAX_LONG_TEXT:
        raise _refused(
            column,
            value,
            f"A long text value holds up to {MAX_LONG_TEXT} characters; this one has {len(text)}.",
            reason="TOO_LONG",
        )
    return _parse(column, text, directory)


# formats the export's CSV writer renders: build the stored shape, render it, parse it back


Shape = Callable[[dict[str, Any]], Any]


@dataclasses.dataclass(frozen=True)
class _Needs:
    """The keys a structured value cannot do without once it sets any key (a "time" without
    its "date"): refused with the import's `reason` for the type and monday's `example`,
    rather than rendered into a CSV cell with a hole in it."""

    keys: tuple[str, ...]
    reason: str
    example: str


_NEEDS = {  # by column type
    "date": _Needs(("date",), "INVALID_DATE", '{"date": "2019-06-03", "time": "13:25:00"}'),
    "timeline": _Needs(
        ("from", "to"), "INVALID_TIMELINE", '{"from": "2019-06-03", "to": "2019-06-07"}'
    ),
    "phone": _Needs(
        ("phone",), "INVALID_PHONE", '{"phone": "11231234567", "countryShortName": "US"}'
    ),
    "email": _Needs(
        ("email",), "INVALID_EMAIL", '{"email": "someone@example.com", "text": "my email"}'
    ),
    "link": _Needs(
        ("url",), "INVALID_URL", '{"url": "http://monday.com", "text": "go to monday!"}'
    ),
}


def _rendered(*keys: str, shape: Shape, fallback: Shape | None = None) -> Convert:
    """A converter for a structured format; `fallback` reshapes a value the import refuses
    into a second reading of the same format, tried once."""

    def convert(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
        found = _object(column, value, keys)
        if found is None:
            return _parse(column, value, directory)
        if all(is_empty(found.get(key)) for key in keys):
            return None
        needs = _NEEDS.get(column.type)
        missing = [key for key in needs.keys if is_empty(found.get(key))] if needs else []
        if needs and missing:
            named = " and ".join(f'"{key}"' for key in missing)
            raise _refused(
                column,
                value,
                f"Column {column.id!r} ({column.type}) needs {named} in its value, such as"
                f" {needs.example}.",
                reason=needs.reason,
            )
        candidate = shape(found)
        try:
            return _parse(column, cells.render_csv(column, candidate, directory), directory)
        except cells.CellError:
            second = fallback(candidate) if fallback else None
            if second is None:
                raise
        return _parse(column, cells.render_csv(column, second, directory), directory)

    return convert


def _strings(found: Mapping[str, Any], *keys: str) -> dict[str, str]:
    return {key: _plain(found.get(key)) for key in keys if not is_empty(found.get(key))}


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _phone(found: Mapping[str, Any]) -> dict[str, str]:
    shape = _strings(found, "phone", "countryShortName")
    if "countryShortName" in shape:
        shape["countryShortName"] = shape["countryShortName"].strip().upper()
    return shape


def _international(shape: dict[str, str]) -> dict[str, str] | None:
    # monday's example sends "11231234567" with US: the country code's digits without a "+"
    phone = shape.get("phone", "")
    return {**shape, "phone": "+" + phone} if phone.isdigit() else None


_phone_rendered = _rendered("phone", "countryShortName", shape=_phone, fallback=_international)
_PHONE_REFUSED = " is not a valid phone number: "


def _phone_value(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
    try:
        return _phone_rendered(column, value, directory)
    except cells.CellError as exc:
        found = _object(column, value, ("phone", "countryShortName"))
        _, refused, reason = exc.message.partition(_PHONE_REFUSED)
        if found is None or not refused:  # a plain string is a CSV cell: the import's message
            raise
        # the import's message quotes the CSV cell the object became ('abc US', or with the
        # "+" tried second): quote the number sent and name its country
        shape = _phone(found)
        country = shape.get("countryShortName")
        raise cells.CellError(
            exc.code,
            f"{shown(shape.get('phone', ''))}{f' (country {clip(country)})' if country else ''}"
            f"{_PHONE_REFUSED}{reason}",
        ) from exc


def _id(value: Any) -> int | None:
    # any size: a number too large for an id is looked up, and not found, as the import's
    # parser looks up any other unknown id (the same errors either way)
    return numeric_ids.parse_number(value)


def _people(found: Mapping[str, Any]) -> dict[str, Any]:
    entries = found.get("personsAndTeams")
    if entries is None and "id" in found:  # the person column's {"id": 235326}
        entries = [{"id": found["id"], "kind": "person"}]
    if entries is None and "team_id" in found:  # the team column's {"team_id": 51166}
        entries = [{"id": found["team_id"], "kind": "team"}]
    shaped = []
    for entry in entries if isinstance(entries, list) else [entries]:
        entity = _id(entry.get("id")) if isinstance(entry, dict) else None
        kind = entry.get("kind", "person") if isinstance(entry, dict) else None
        if entity is None or kind not in ("person", "team"):
            raise cells.CellError(
                "INVALID_PERSON",
                'Each entry of "personsAndTeams" needs a numeric "id" and a "kind" of'
                f' "person" or "team", not {_shown(entry)}.',
            )
        shaped.append({"id": entity, "kind": kind})
    return {"personsAndTeams": shaped}


_people_rendered = _rendered("personsAndTeams", "id", "team_id", shape=_people)


def _people_value(
    column: cells.Column, value: Any, directory: cells.Directory
) -> cells.Cell | None:
    try:
        return _people_rendered(column, value, directory)
    except cells.CellError as exc:
        if exc.code not in ("PERSON_NOT_FOUND", "INACTIVE_USER"):
            raise
        found = _object(column, value, ("personsAndTeams", "id", "team_id"))
        if found is None:  # a plain string is a CSV cell: the import's message says it
            raise
        # the import's message quotes the CSV cell the entries became ('user:999'): say
        # which entry of the value sent is wrong, in its own terms
        for entry in _people(found)["personsAndTeams"]:
            entity_id, kind = entry["id"], entry["kind"]
            if kind == "team" and directory.team(entity_id) is None:
                raise cells.CellError(
                    "PERSON_NOT_FOUND", f"No team with id {clip(entity_id)} in this account."
                ) from exc
            person = directory.person(entity_id) if kind == "person" else None
            if kind == "person" and person is None:
                raise cells.CellError(
                    "PERSON_NOT_FOUND", f"No user with id {clip(entity_id)} in this account."
                ) from exc
            if person is not None and not person.enabled:
                raise cells.CellError(
                    "INACTIVE_USER", f"User {entity_id} ({person.name}) is deactivated."
                ) from exc
        raise


def _tag_ids(found: Mapping[str, Any]) -> dict[str, Any]:
    ids = found.get("tag_ids")
    shaped = []
    for entry in ids if isinstance(ids, list) else [ids]:
        tag_id = _id(entry)
        if tag_id is None:
            raise cells.CellError("INVALID_TAG", f"{_shown(entry)} is not a tag id.")
        shaped.append(tag_id)
    return {"tag_ids": shaped}


def _tags(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
    # Kept by id, not rendered to names and parsed back: an account-wide tag and the board's
    # own may share a name, and the name would pick the board's own.
    found = _object(column, value, ("tag_ids",))
    if found is None:
        return _parse(column, value, directory)
    if is_empty(found.get("tag_ids")):
        return None
    stored = {"tag_ids": list(dict.fromkeys(_tag_ids(found)["tag_ids"]))}
    cells.render_csv(column, stored, directory)  # TAG_NOT_FOUND for a tag the board may not use
    return cells.Cell(stored, cells.display_text(column, stored, directory))


def _linked_items(found: Mapping[str, Any]) -> dict[str, Any]:
    ids = found.get("item_ids")
    if ids is None:
        links = found.get("linkedPulseIds")
        ids = [
            link.get("linkedPulseId") if isinstance(link, dict) else link for link in links or []
        ]
    shaped = []
    for entry in ids if isinstance(ids, list) else [ids]:
        item_id = _id(entry)
        if item_id is None:
            raise cells.CellError("INVALID_ITEM", f"{_shown(entry)} is not an item id.")
        shaped.append({"linkedPulseId": item_id})
    return {"linkedPulseIds": shaped}


_date_and_time = _rendered("date", "time", shape=lambda f: _strings(f, "date", "time"))


def _date(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
    try:
        return _date_and_time(column, value, directory)
    except cells.CellError as exc:
        found = _object(column, value, ("date", "time"))
        if found is None:  # a plain string is a CSV cell: the import's message says it
            raise
        # the import reads date and time as one cell: say which of the two fields is wrong
        try:
            _parse(column, _plain(found["date"]), directory)
        except cells.CellError:
            raise cells.CellError(
                "INVALID_DATE",
                f"'{_shown(found['date'])}' is not a valid date; expected YYYY-MM-DD such as"
                " 2019-06-03.",
            ) from exc
        raise cells.CellError(
            "INVALID_DATE",
            f"'{_shown(found.get('time'))}' is not a valid time; expected HH:MM:SS (UTC) such"
            " as 13:25:00.",
        ) from exc


def _checkbox(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
    found = _object(column, value, ("checked",))
    if found is None:
        return _parse(column, value, directory)
    checked = found.get("checked")
    return None if is_empty(checked) else _parse(column, _text_of(column, checked), directory)


# status and dropdown: labels by index or id, with monday's errors that list them


def _label_ids(column: cells.Column, status: bool) -> dict[int, str]:
    """The column's active labels by status index (from 0) or dropdown id (from 1)."""
    # read once: a label at a time, a column of n labels cost n^2 (2,000 labels took seconds)
    labels = cells.label_list(column)
    return {label_id: label for label_id, label in enumerate(labels, 0 if status else 1) if label}


def shown_settings(column: cells.Column) -> dict[str, Any]:
    """A column's settings in monday's settings_str form, which create_column's `defaults`
    takes back: status labels by index ({"0": "Done"}), dropdown labels with their ids
    ([{"id": 1, "name": "Red"}]), the boards of a relation as boardIds. Only active labels,
    the ones a value may take, as the errors list them."""
    settings = dict(column.settings)
    if column.type in ("status", "dropdown"):
        status = column.type == "status"
        labels = _label_ids(column, status)
        settings["labels"] = (
            _label_data(labels)
            if status
            else [{"id": label_id, "name": label} for label_id, label in labels.items()]
        )
    elif column.type == "board_relation":
        settings["boardIds"] = settings.pop("board_ids", [])
    return settings


def _listing(labels: Mapping[int, str]) -> str:
    return "{" + ", ".join(f"{label_id}: {label}" for label_id, label in labels.items()) + "}"


def _label_data(labels: Mapping[int, str]) -> dict[str, str]:
    # JSON object keys are strings
    return {str(label_id): label for label_id, label in labels.items()}


def _status(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
    labels = _label_ids(column, status=True)
    found = _object(column, value, ("index", "label"))
    if found is None:
        label = value
    elif "index" in found and not is_empty(found["index"]):
        index = _id(found["index"])
        if index is None or index not in labels:
            raise _refused(
                column,
                value,
                f"This status index doesn't exist, possible statuses are: {_listing(labels)}",
                labels=_label_data(labels),
            )
        label = labels[index]
    else:
        label = found.get("label")
    if is_empty(label):
        return None
    label = _text_of(column, label).strip()
    if label not in labels.values():
        raise MissingLabels(
            f"This status label doesn't exist, possible statuses are: {_listing(labels)}",
            labels=[label],
            error_data=_error_data(column, value, labels=_label_data(labels)),
        )
    return _parse(column, label, directory)


def _dropdown(column: cells.Column, value: Any, directory: cells.Directory) -> cells.Cell | None:
    labels = _label_ids(column, status=False)
    found = _object(column, value, ("ids", "id", "labels", "label"))
    if found is None:
        text = _text_of(column, value)
        # missing labels are told apart only for unquoted lists; quoted ones go to the parser
        pieces = [] if '"' in text else [p.strip() for p in text.split(",") if p.strip()]
        known = set(labels.values())
        missing = [piece for piece in pieces if piece not in known]
        if missing:
            raise _missing_dropdown(column, value, labels, missing)
        return _parse(column, text, directory)
    ids: list[int] = []
    for entry in _listed(found, "ids", "id"):
        label_id = _id(entry)
        if label_id is None or label_id not in labels:
            raise _refused(
                column,
                value,
                f"The dropdown label id {_shown(entry)} doesn't exist, possible labels are:"
                f" {_listing(labels)}",
                labels=_label_data(labels),
            )
        ids.append(label_id)
    by_label = {label: label_id for label_id, label in reversed(labels.items())}
    names = [_text_of(column, entry).strip() for entry in _listed(found, "labels", "label")]
    missing = [name for name in names if name not in by_label]
    if missing:
        raise _missing_dropdown(column, value, labels, missing)
    ids.extend(by_label[name] for name in names)
    if not ids:
        return None
    return _parse(column, cells.render_csv(column, {"ids": ids}, directory), directory)


def _listed(found: Mapping[str, Any], many: str, one: str) -> list[Any]:
    entries = found.get(many, [found[one]] if one in found else [])
    entries = entries if isinstance(entries, list) else [entries]
    return [entry for entry in entries if not is_empty(entry)]


def _missing_dropdown(
    column: cells.Column, value: Any, labels: Mapping[int, str], missing: list[str]
) -> MissingLabels:
    shown = ", ".join(repr(name) for name in missing)
    return MissingLabels(
        f"The dropdown label {shown} doesn't exist, possible labels are: {_listing(labels)}",
        labels=missing,
        error_data=_error_data(column, value, labels=_label_data(labels)),
    )


_CONVERTERS: dict[str, Convert] = {
    "long_text": _long_text,
    "status": _status,
    "dropdown": _dropdown,
    "date": _date,
    "timeline": _rendered("from", "to", shape=lambda f: _strings(f, "from", "to")),
    "phone": _phone_value,
    "email": _rendered("email", "text", shape=lambda f: _strings(f, "email", "text")),
    "link": _rendered("url", "text", shape=lambda f: _strings(f, "url", "text")),
    "people": _people_value,
    "board_relation": _rendered("item_ids", "linkedPulseIds", shape=_linked_items),
    "checkbox": _checkbox,
    "tags": _tags,
}
