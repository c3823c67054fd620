"""Match keys kept current while an import writes.

The parsing worker plans each row against the board's match keys as the job read them when it
started (`processing._matches`). Other writers may change them meanwhile: the v2 API creates
an item with a key the file creates too, or changes a key (a value, a name). Each stamps
the item (migration 0015) while it holds the board's row lock; each chunk, holding that lock
itself until it commits, reads the stamps since the last it saw (one query, usually of no row)
and matches again the rows whose key changed hands, before anything is written. A row is then
matched as if the job had read the keys at that moment: the items holding its key now, those
other writers gave it and those this job created, and none that lost it. An item archived or
deleted meanwhile is not stamped: a row matching it fails as `ITEM_GONE` (README), to be sent
again, rather than create the item anew.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from server import errors, sql
from server.db import Connection
from server.imports import copyformat
from server.imports.rows import MISSING_NAME

if TYPE_CHECKING:
    from server.imports.writer import PlannedRow

Q = sql.queries("imports")
BOARDS = sql.queries("boards")


class KeysChanged(Exception):
    """A chunk's rows encoded for COPY as new items have a key another writer's item holds
    now: they must be planned again as rows (`worker.replan`) and matched by the writer."""


def multiple_matches(column_id: str | None, key: str, count: int) -> dict[str, str]:
    return {
        "column_id": column_id or "",
        "code": "MULTIPLE_MATCHES",
        "message": f"{count} items match {errors.shown(key)}; nothing was changed",
    }


@dataclass(kw_only=True)
class KeyChanges:
    """What other writers did to a board's match keys since a job read them, as each chunk
    reads it under the board's row lock."""

    behaviour: str  # UPSERT | SKIP | UPDATE
    match_column: str  # a column id, or "name"
    watermark: int = 0  # the last stamp read (imports.sql key_watermark, key_changes)
    # item -> the key it holds now (None: none, or it can no longer be matched), for the
    # items stamped since the job read the keys
    key_of: dict[int, str | None] = field(default_factory=dict)
    holders: dict[str, set[int]] = field(default_factory=dict)  # the reverse of `key_of`
    # key -> the line of a row that this writer turned into the one creating that key's item
    creators: dict[str, int] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        return None if self.match_column == "name" else self.match_column

    async def read_watermark(self, conn: Connection, board_id: int) -> None:
        """Before the job reads its match keys, in a transaction of its own: the last stamp."""
        await conn.execute(BOARDS["lock_board"], board_id)
        self.watermark = int(await conn.fetchval(Q["key_watermark"], board_id))

    async def refresh(self, conn: Connection, board_id: int) -> None:
        """In a chunk's transaction, holding the board's row lock: the stamps since the last."""
        for row in await conn.fetch(Q["key_changes"], board_id, self.watermark, self.column):
            # one archived or deleted since keeps the key it had: a row matching it fails
            # (writer._fail_gone, ITEM_GONE), to be sent again, and creates nothing
            if row["active"]:
                self.absorb(row["id"], row["key"])
            self.watermark = max(self.watermark, int(row["key_change"]))

    def absorb(self, item_id: int, key: str | None) -> None:
        """Item `item_id` holds `key` now (None: no key, or it can no longer be matched)."""
        before = self.key_of.get(item_id)
        if before is not None:
            self.holders[before].discard(item_id)
        self.key_of[item_id] = key or None
        if key:
            self.holders.setdefault(key, set()).add(item_id)

    def claimed(self, keys: Iterable[str]) -> bool:
        """Whether an item this job did not plan for holds one of `keys` now (rows planned to
        create those keys' items may not)."""
        return any(self.holders.get(key) or key in self.creators for key in keys)

    def claimed_by_any(self, tails: Sequence[bytes]) -> bool:
        """`claimed` for the keys of new items encoded for COPY (`copyformat.ItemTail`): read
        back from them only when other writers changed keys since the job read them."""
        return bool(self.key_of) and self.claimed(filter(None, map(self._key_of_tail, tails)))

    def _key_of_tail(self, tail: bytes) -> str | None:
        name, document = copyformat.name_and_document(tail)
        if self.column is None:
            return name
        entry = orjson.loads(document).get(self.column)
        return None if entry is None else str(entry["text"])

    def resolve(
        self, rows: Sequence[PlannedRow], created: Mapping[int, int]
    ) -> list[tuple[PlannedRow, PlannedRow]]:
        """Match again, in file order, the rows of one write whose key changed hands since
        the worker planned them (`created`: line -> item of the rows this job created). A row
        that now creates its key's item stands for that key in the rows after it: those are
        returned as (row, creating row) pairs, to take its item once it has an id."""
        if not self.key_of:  # nothing changed since the job read the keys: the usual case
            return []
        waiting: list[tuple[PlannedRow, PlannedRow]] = []
        creating: dict[str, PlannedRow] = {}
        for row in rows:
            key = row.key
            if key is None or row.status not in ("created", "updated", "skipped", "invalid"):
                continue
            planned = self._planned(row, created)
            creator = creating.get(key)
            if creator is not None:
                self._decide(row, 1, None)
                waiting.append((row, creator))
            elif self._touched(key, planned):
                found = self._holding(key, planned, created)
                self._decide(row, len(found), min(found) if found else None)
                if row.status == "created":
                    creating[key] = row
                    self.creators[key] = row.line
        return waiting

    def _touched(self, key: str, planned: set[int]) -> bool:
        """Whether who holds `key` may have changed since the row was planned."""
        return (
            key in self.holders
            or key in self.creators
            or not self.key_of.keys().isdisjoint(planned)
        )

    @staticmethod
    def _planned(row: PlannedRow, created: Mapping[int, int]) -> set[int]:
        """The items the worker matched the row with (those created by rows of this job, if
        they were)."""
        items: set[int] = set()
        for match in row.matched:
            if isinstance(match, int):
                items.add(match)
            else:
                item = created.get(int(match.removeprefix("line:")))
                if item is not None:
                    items.add(item)
        return items

    def _holding(self, key: str, planned: set[int], created: Mapping[int, int]) -> set[int]:
        """The items holding `key` now."""
        found = {item for item in planned if self.key_of.get(item, key) == key}
        found |= self.holders.get(key, set())
        line = self.creators.get(key)
        item = created.get(line) if line is not None else None
        if item is not None and self.key_of.get(item, key) == key:
            found.add(item)
        return found

    def _decide(self, row: PlannedRow, count: int, item: int | None) -> None:
        """The row's write for `count` items holding its key (`item` the one, if one; None
        with a count of 1: the item a row before it creates in this write)."""
        row.match_line, row.item_id, row.errors = None, item, []
        if count > 1:
            assert row.key is not None
            row.status = "invalid"
            row.errors = [multiple_matches(self.match_column, row.key, count)]
        elif count == 1:
            if self.behaviour == "SKIP":
                row.status = "skipped"
            else:
                row.status = "updated"
                assert row.document is not None  # a keyed row keeps it (`plan_row`)
                row.sets = list(orjson.loads(row.document))
        elif self.behaviour == "UPDATE":  # Zoho's update mode never creates
            row.status = "skipped"
        elif not row.name:  # only a matched row may leave its name empty
            row.status, row.errors = "invalid", [MISSING_NAME.as_json()]
        else:
            row.status = "created"
