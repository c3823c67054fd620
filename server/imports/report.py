"""The import report: each reported row's own cells, then where and why, so a user can fix
the rows in place and upload the file again."""

from __future__ import annotations

import csv
from pathlib import Path

from server.imports import csvfile
from server.store.jobs import RowResult


def write_report(
    path: Path, header: list[str], rows: list[RowResult], *, named: bool = True
) -> None:
    """The rows' own cells, then where and why: fix them in place and upload the file again.

    A file that was itself a report (`named`: its header cells name its columns) loses its
    own report columns: the import ignored them, and kept beside the new ones they made the
    next report's header repeat `__line`..., which the importer rejects as duplicate headers.
    Without `named` (field mappings, which take cells by index) every cell stays where it was.
    """
    width = len(header)
    kept = [
        index for index, name in enumerate(header) if not (named and name in csvfile.REPORT_COLUMNS)
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*(header[index] for index in kept), *csvfile.REPORT_COLUMNS])
        for row in rows:
            cells_ = (list(row.cells) + [""] * width)[:width]
            errors = "; ".join(
                f"{e['column_id'] or 'row'}: {e['code']}: {e['message']}" for e in row.errors
            )
            own = [cells_[index] for index in kept]
            writer.writerow([*own, row.line, row.status, row.item_id or "", errors])
