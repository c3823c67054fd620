"""Loading fixture files (CONTRACT §4): additive, ids kept, one transaction per load.

Loading merges: a record whose id is already stored gets only the keys the fixture gives (a
key left out, or null, keeps the stored value) and a new record gets the defaults. New groups,
columns and items go after the board's last ones; stored ones keep their places. A fixture is
checked against the shapes of §4 before anything is written, so a malformed one is refused
whole, with the path of the first bad key.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from server import numeric_ids, sql
from server.db import Connection, Pool
from server.errors import BadUserInput, shown
from server.imports import cells
from server.store import directory as directory_store
from server.store import items as item_store
from server.store.accounts import hash_token
from server.store.records import ROLES

Q = sql.queries("fixtures")
COLUMN_TYPES = frozenset(
    {
        "text", "long_text", "numbers", "status", "dropdown", "date", "timeline", "people",
        "phone", "email", "link", "board_relation", "checkbox", "currency", "tags",
    }
)  # fmt: skip
MAX_LEVELS = 5  # boards.hierarchy_levels' CHECK
MAX_SHOWN = 60  # characters of a bad value quoted back in a message
ROLLBACK_ATTEMPTS = 3  # resets or loads tried, each rolled back by a deadlock, before giving up


class InvalidFixture(BadUserInput):
    """A fixture that does not have the shape of CONTRACT §4, or that the database refuses."""

    def __init__(self, message: str) -> None:
        super().__init__(f"invalid fixture: {message}")


# The shapes of CONTRACT §4


@dataclass(frozen=True)
class _Kind:
    """What one key's value must be: `expected` says it in messages, `accepts` checks it."""

    expected: str
    accepts: Callable[[object], bool]


@dataclass(frozen=True)
class _Record:
    """An object whose keys have kinds; keys it does not name are ignored."""

    keys: Mapping[str, _Kind | _Record | _Records]
    required: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Records:
    """A list of records."""

    record: _Record


def _int_between(value: object, low: int, high: int) -> bool:
    # bool is an int to Python, never to a JSON author
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _label_ok(value: object) -> bool:
    if isinstance(value, str):
        return True
    return (
        isinstance(value, dict)
        and isinstance(value.get("label"), str)
        and isinstance(value.get("active", True), bool)
    )


def _cell_ok(value: object) -> bool:
    return value is None or isinstance(value, str | int | float)


ID = _Kind("an integer id", lambda v: _int_between(v, 0, numeric_ids.MAX_ID))
TEXT = _Kind("a string", lambda v: isinstance(v, str))
FLAG = _Kind("true or false", lambda v: isinstance(v, bool))
LEVEL = _Kind(f"an integer from 1 to {MAX_LEVELS}", lambda v: _int_between(v, 1, MAX_LEVELS))
COUNT = _Kind("a whole number", lambda v: _int_between(v, 0, 2**31 - 1))
ROLE = _Kind("one of " + ", ".join(ROLES), lambda v: isinstance(v, str) and v in ROLES)
COLUMN_TYPE = _Kind(
    "one of " + ", ".join(sorted(COLUMN_TYPES)), lambda v: isinstance(v, str) and v in COLUMN_TYPES
)
IDS = _Kind("a list of integer ids", lambda v: isinstance(v, list) and all(map(ID.accepts, v)))
BOARD_IDS = _Kind(
    "a list of board ids",
    lambda v: isinstance(v, list) and all(numeric_ids.parse_id(b) is not None for b in v),
)
LABELS = _Kind(
    'a list of labels, each a string or {"label": "X", "active": false}',
    lambda v: isinstance(v, list) and all(map(_label_ok, v)),
)
CELLS = _Kind(
    "an object of CSV cell texts (strings, numbers or booleans) by column id",
    lambda v: isinstance(v, dict) and all(map(_cell_ok, v.values())),
)

ACCOUNT = _Record({"id": ID, "name": TEXT, "slug": TEXT, "plan": TEXT}, required=("id",))
USER = _Record(
    {
        "id": ID, "account_id": ID, "name": TEXT, "email": TEXT, "token": TEXT,
        "token_id": TEXT, "token_secret": TEXT, "is_admin": FLAG, "enabled": FLAG, "kind": TEXT,
    },
    required=("id",),
)  # fmt: skip
TEAM = _Record({"id": ID, "account_id": ID, "name": TEXT, "user_ids": IDS}, required=("id",))
MEMBER = _Record({"user_id": ID, "role": ROLE}, required=("user_id", "role"))
GROUP = _Record({"id": TEXT, "title": TEXT}, required=("id",))
SETTINGS = _Record(
    {"labels": LABELS, "max_people_allowed": COUNT, "board_ids": BOARD_IDS, "currency": TEXT}
)
COLUMN = _Record(
    {"id": TEXT, "title": TEXT, "type": COLUMN_TYPE, "settings": SETTINGS}, required=("id",)
)
ITEM = _Record(
    {
        "id": ID, "name": TEXT, "group_id": TEXT, "parent_id": ID, "level": LEVEL,
        "creator_id": ID, "values": CELLS,
    }
)  # fmt: skip
BOARD = _Record(
    {
        "id": ID, "account_id": ID, "name": TEXT, "uid": TEXT, "slug": TEXT,
        "description": TEXT, "board_kind": TEXT, "state": TEXT, "hierarchy_levels": LEVEL,
        "members": _Records(MEMBER), "groups": _Records(GROUP), "columns": _Records(COLUMN),
        "items": _Records(ITEM),
    }
)  # fmt: skip
FIXTURE = _Record(
    {
        "accounts": _Records(ACCOUNT), "users": _Records(USER), "teams": _Records(TEAM),
        "boards": _Records(BOARD),
    },
    required=("accounts",),  # "Every key but accounts is optional"
)  # fmt: skip


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    shown = orjson.dumps(value).decode()
    return shown if len(shown) <= MAX_SHOWN else shown[: MAX_SHOWN - 3] + "..."


def _check(value: object, kind: _Kind | _Record | _Records, where: str) -> None:
    """Raise InvalidFixture unless `value` is of `kind`; `where` is its path ("" for the
    document), as in `boards[0].columns[1].settings`."""
    at = f"{where}: " if where else ""
    if isinstance(kind, _Records):
        if not isinstance(value, list):
            raise InvalidFixture(f"{at}expected a list, got {_show(value)}")
        for index, entry in enumerate(value):
            _check(entry, kind.record, f"{where}[{index}]")
    elif isinstance(kind, _Record):
        if not isinstance(value, dict):
            raise InvalidFixture(f"{at}expected an object, got {_show(value)}")
        for key in kind.required:
            if value.get(key) is None:
                raise InvalidFixture(f"{at}{key!r} is required")
        for key, key_kind in kind.keys.items():
            given = value.get(key)
            if given is not None:  # null is the same as leaving the key out
                _check(given, key_kind, f"{where}.{key}" if where else key)
    elif not kind.accepts(value):
        raise InvalidFixture(f"{at}expected {kind.expected}, got {_show(value)}")


def validate(data: object) -> dict[str, Any]:
    """`data` as a fixture document; InvalidFixture names the first key of the wrong shape."""
    if not isinstance(data, dict):
        raise InvalidFixture(f"expected an object, got {_show(data)}")
    _check(data, FIXTURE, "")
    return data


def read_fixture(path: Path) -> dict[str, Any]:
    """The fixture file at `path`, checked."""
    try:
        # orjson, as the admin endpoint reads bodies: the same numbers either way
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InvalidFixture(f"cannot read {path}: {exc}") from exc
    return validate(data)


# Loading


@dataclass(frozen=True)
class _LoadedBoard:
    id: int
    account_id: int
    item_ids: list[int]


def _hash(value: str | None) -> str | None:
    return hash_token(value) if value else None


def _new_uid() -> str:
    # Blue ids are 25-character cuid-like strings
    return "c" + secrets.token_hex(12)


def _records(parent: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = parent.get(key) or []
    return records


# What the database refuses for the fixture's own content: a broken constraint (an unknown
# reference, a missing value) or a value of the wrong kind. Anything else (the connection
# lost, the transaction ended idle, a deadlock) is the server's failure, not the fixture's.
_REFUSALS_OF_CONTENT = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


@contextlib.contextmanager
def _refused_by_database() -> Iterator[None]:
    """The database's refusals of the fixture's content as InvalidFixture."""
    try:
        yield
    except asyncpg.NotNullViolationError as exc:
        record = str(exc.table_name or "record").removesuffix("s")
        raise InvalidFixture(f"a new {record} needs {exc.column_name!r}") from exc
    except _REFUSALS_OF_CONTENT as exc:
        raise InvalidFixture(str(exc)) from exc


async def load_fixture(pool: Pool, data: object) -> None:
    """Load one fixture document into the database, all or nothing."""
    fixture = validate(data)

    async def load() -> None:
        with _refused_by_database():
            async with pool.acquire() as conn, conn.transaction():
                await _load(conn, fixture)

    # its upserts may meet an import's chunk (or another load) locking the same rows in
    # another order: a server starting while another process imported into a fixture board
    # failed to start
    await _retry_rolled_back(load)


async def reset(
    pool: Pool, fixture_path: Path | None, delete_files: Callable[[], Awaitable[None]]
) -> None:
    """Delete all data, return the clock to real time and load the fixture at `fixture_path`,
    all or nothing: the fixture is read and checked first, and `delete_files` runs last inside
    the transaction, so a bad fixture or a storage failure leaves the database as it was."""
    fixture = read_fixture(fixture_path) if fixture_path is not None else None

    async def reset_once() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(Q["lock_data"])  # exports out of the way first
            await conn.execute(Q["reset_all"])
            await conn.execute(Q["reset_clock"])
            if fixture is not None:
                with _refused_by_database():
                    await _load(conn, fixture)
            await delete_files()

    # the truncation's table locks may meet a running transaction's in another order (a
    # job's chunk, a v2 write)
    await _retry_rolled_back(reset_once)


async def _retry_rolled_back(work: Callable[[], Awaitable[None]]) -> None:
    """Run `work`, one transaction, again each time PostgreSQL rolls it back as a deadlock's
    victim, up to ROLLBACK_ATTEMPTS runs in all."""
    for attempt in range(1, ROLLBACK_ATTEMPTS + 1):
        try:
            await work()
            return
        except asyncpg.TransactionRollbackError:
            if attempt == ROLLBACK_ATTEMPTS:
                raise


async def _load(conn: Connection, data: dict[str, Any]) -> None:
    for account in _records(data, "accounts"):
        await conn.execute(
            Q["upsert_account"],
            account["id"],
            account.get("name"),
            account.get("slug"),
            account.get("plan"),
        )
    for user in _records(data, "users"):
        await conn.execute(
            Q["upsert_user"],
            user["id"],
            user.get("account_id"),
            user.get("name"),
            user.get("email"),
            _hash(user.get("token")),
            user.get("token_id"),
            _hash(user.get("token_secret")),
            user.get("is_admin"),
            user.get("enabled"),
            user.get("kind"),
        )
    for team in _records(data, "teams"):
        await conn.execute(Q["upsert_team"], team["id"], team.get("account_id"), team.get("name"))
        for user_id in team.get("user_ids") or []:
            await conn.execute(Q["add_team_member"], team["id"], user_id)
    boards = _records(data, "boards")
    loaded = [await _load_board(conn, board) for board in boards]
    await conn.execute(Q["bump_sequences"])
    # Values come last: people and board-relation cells refer to users and items loaded above.
    for board, board_loaded in zip(boards, loaded, strict=True):
        await _load_values(conn, board, board_loaded)
    await conn.execute(Q["bump_sequences"])


async def _load_board(conn: Connection, board: dict[str, Any]) -> _LoadedBoard:
    members = _records(board, "members")
    owner = next((m["user_id"] for m in members if m["role"] == "OWNER"), None)
    given_id = board.get("id")
    row = await conn.fetchrow(
        Q["upsert_board"],
        given_id,
        board.get("account_id"),
        board.get("name"),
        board.get("uid"),
        board.get("slug"),
        board.get("description"),
        board.get("board_kind"),
        board.get("state"),
        board.get("hierarchy_levels"),
        owner,
        _new_uid(),
        str(given_id) if given_id is not None else secrets.token_hex(4),
    )
    assert row is not None  # an upsert always returns its row
    board_id: int = row["id"]
    for member in members:
        await conn.execute(Q["upsert_board_member"], board_id, member["user_id"], member["role"])
    groups = _records(board, "groups")
    for group in groups:
        await conn.execute(Q["upsert_group"], board_id, group["id"], group.get("title"))
    if not groups:
        await conn.execute(Q["add_default_group"], board_id)
    for column in _records(board, "columns"):
        await conn.execute(
            Q["upsert_column"],
            board_id,
            column["id"],
            column.get("title"),
            column.get("type"),
            column.get("settings"),
        )
    item_ids: list[int] = []
    for item in _records(board, "items"):
        item_id: int = await conn.fetchval(
            Q["upsert_item"],
            item.get("id"),
            board_id,
            item.get("group_id"),
            item.get("parent_id"),
            item.get("level"),
            item.get("name"),
            item.get("creator_id"),
        )
        item_ids.append(item_id)
    return _LoadedBoard(id=board_id, account_id=row["account_id"], item_ids=item_ids)


def _cell_text(raw: str | float) -> str:
    # JSON true reads as a checkbox's "true", not Python's "True"
    return ("true" if raw else "false") if isinstance(raw, bool) else str(raw)


async def _load_values(conn: Connection, board: dict[str, Any], loaded: _LoadedBoard) -> None:
    items = _records(board, "items")
    if not any(item.get("values") for item in items):
        return
    # the board's columns as stored: a fixture may fill columns an earlier load created
    columns = {
        row["id"]: cells.Column(
            id=row["id"], title=row["title"], type=row["type"], settings=row["settings"] or {}
        )
        for row in await conn.fetch(Q["board_columns"], loaded.id)
    }
    targets = [
        board_id
        for column in columns.values()
        if isinstance(column.settings.get("board_ids"), list)
        for board_id in map(numeric_ids.parse_id, column.settings["board_ids"])
        if board_id is not None
    ]
    directory = await directory_store.load_directory(
        conn, loaded.account_id, [loaded.id, *targets], board_id=loaded.id
    )
    for item, item_id in zip(items, loaded.item_ids, strict=True):
        label = f"item {shown(item['name'])}" if item.get("name") else f"item {item_id}"
        values: dict[str, tuple[Any, str]] = {}
        for column_id, raw in (item.get("values") or {}).items():
            if raw is None:
                continue  # null is the same as leaving the cell out
            if column_id not in columns:
                raise InvalidFixture(f"{label}: unknown column {shown(column_id)}")
            try:
                cell = cells.parse_cell(columns[column_id], _cell_text(raw), directory)
            except cells.CellError as exc:
                raise InvalidFixture(f"{label}, column {shown(column_id)}: {exc.message}") from exc
            if cell is not None and cell.value is not None:
                values[column_id] = (cell.value, cell.text)
        if values:
            await conn.execute(
                Q["upsert_column_values"], item_id, item_store.value_document(values)
            )
