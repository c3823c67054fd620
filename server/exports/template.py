"""The CSV layout Blue's template and record export share, and the template itself.

The columns are Blue's recognised fields in documented order, then one per custom field
(non-archived board column) by position, with `Currency Types` right after each currency
field. A custom field whose title a recognised header or an earlier field already uses is
left out: an importer matching headers by name could not tell the two apart. Every cell,
header included, is neutralised against spreadsheet formula injection.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TextIO

from server.imports import blue_fields, cells
from server.services import Services
from server.store.records import Board, ColumnRecord

TEMPLATE_URL_TTL = timedelta(hours=24)
# Blue's own template names end in minute, hour, day, month, year: workspace-template-301520032025.csv
TEMPLATE_STAMP = "%M%H%d%m%Y"
_RESERVED = frozenset(
    name.lower() for name in (*blue_fields.RECOGNISED, blue_fields.CURRENCY_TYPES)
)


@dataclass(frozen=True, kw_only=True)
class Layout:
    fields: tuple[cells.Column, ...]  # the custom fields, in column order

    @property
    def header(self) -> list[str]:
        names = list(blue_fields.RECOGNISED)
        for field in self.fields:
            names.append(field.title)
            if field.type == "currency":
                names.append(blue_fields.CURRENCY_TYPES)
        return names

    @property
    def relation_board_ids(self) -> list[int]:
        """The boards whose item names board-relation cells refer to."""
        return [int(b) for f in self.fields for b in f.settings.get("board_ids", [])]

    def custom_cells(self, values: Mapping[str, Any], directory: cells.Directory) -> list[str]:
        """One record's custom field cells (and currency codes) in header order."""
        rendered: list[str] = []
        for field in self.fields:
            text = cells.render_csv(field, values.get(field.id), directory)
            rendered.append(text)
            if field.type == "currency":
                rendered.append(str(field.settings.get("currency") or "") if text else "")
        return rendered


def layout(columns: Iterable[ColumnRecord]) -> Layout:
    """The layout of a workspace from its board columns."""
    taken = set(_RESERVED)
    fields: list[cells.Column] = []
    for column in sorted(columns, key=lambda c: c.position):
        key = column.title.strip().lower()
        if column.archived or key in taken:
            continue
        taken.add(key)
        fields.append(
            cells.Column(
                id=column.id, title=column.title, type=column.type, settings=column.settings
            )
        )
    return Layout(fields=tuple(fields))


def write_csv(out: TextIO, rows: Iterable[Sequence[str]]) -> None:
    """Write `rows` to `out` as RFC 4180 CSV, every cell neutralised."""
    csv.writer(out).writerows([blue_fields.neutralise(cell) for cell in row] for row in rows)


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    """RFC 4180 CSV of `rows`, every cell neutralised."""
    out = io.StringIO()
    write_csv(out, rows)
    return out.getvalue()


def template_key(account_slug: str, board: Board, now: datetime) -> str:
    # a random folder: the object cannot be guessed even where the bucket is readable
    return (
        f"templates/{account_slug}/{board.slug}/{uuid.uuid4()}/"
        f"workspace-template-{now.strftime(TEMPLATE_STAMP)}.csv"
    )


async def load_layout(services: Services, board: Board) -> Layout:
    return layout((await services.boards.columns([board.id]))[board.id])


async def export_template(services: Services, account_slug: str, board: Board) -> str:
    """Store the workspace's blank template; return a pre-signed GET URL valid 24 hours."""
    header = (await load_layout(services, board)).header
    body = csv_text([header, [""] * len(header)])
    key = template_key(account_slug, board, services.clock.now())
    await services.storage.put_bytes(key, body.encode("utf-8"))
    return await services.storage.presign_get(
        key,
        expires_in=int(TEMPLATE_URL_TTL.total_seconds()),
        filename=key.rsplit("/", 1)[-1],
    )
