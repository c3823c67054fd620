"""The import report: each reported row's own cells, then where and why, so a user can fix
the rows in place and upload the file again."""

from __future__ import annotations

import csv
from pathlib import Path

from server.imports import csvfile
from server.store.jobs import RowResult


def write_report(path: Path, header: list[str], rows: list[RowResult]) -> None:
    """The rows' own cells, then where and why: fix them in place and upload the file again."""
    width = len(header)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*header, *csvfile.REPORT_COLUMNS])
        for row in rows:
            cells_ = (list(row.cells) + [""] * width)[:width]
            errors = "; ".join(
                f"{e['column_id'] or 'row'}: {e['code']}: {e['message']}" for e in row.errors
            )
            writer.writerow([*cells_, row.line, row.status, row.item_id or "", errors])
