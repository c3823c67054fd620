"""The import report: each reported row's own cells, then where and why, so a user can fix
the rows in place and upload the file again."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import TextIO

from server.imports import csvfile
from server.store.jobs import RowResult

# Longer cells are quoted here a slice at a time: the csv module writes a row in one C call
# that holds the interpreter lock throughout, and in the report's thread a 100 MB cell held
# the server's event loop 3.4 s (fetch_job_status and /healthz unanswered).
LONG_CELL = 64 * 1024  # characters
QUOTE_SLICE = 1024 * 1024  # characters quoted and written at a time


class Report:
    """Writes the report to `out` (opened with newline=""), a page of rows at a time.

    A file that was itself a report (`named`: its header cells name its columns) loses its
    own report columns: the import ignored them, and kept beside the new ones they made the
    next report's header repeat `__line`..., which the importer rejects as duplicate headers.
    Without `named` (field mappings, which take cells by index) every cell stays where it was.
    """

    def __init__(self, out: TextIO, header: list[str], *, named: bool = True) -> None:
        self.out = out
        self.width = len(header)
        self.kept = [
            index
            for index, name in enumerate(header)
            if not (named and name in csvfile.REPORT_COLUMNS)
        ]
        self.writer = csv.writer(out)
        self.writer.writerow([*(header[index] for index in self.kept), *csvfile.REPORT_COLUMNS])

    def write_rows(self, rows: Sequence[RowResult]) -> None:
        """The rows' own cells, then where and why: fix them in place and upload again."""
        for row in rows:
            cells = (list(row.cells) + [""] * self.width)[: self.width]
            errors = "; ".join(
                f"{e['column_id'] or 'row'}: {e['code']}: {e['message']}" for e in row.errors
            )
            record = [*(cells[index] for index in self.kept)]
            record += [str(row.line), row.status, str(row.item_id or ""), errors]
            if any(len(cell) > LONG_CELL for cell in record):
                self._write_quoted(record)
            else:
                self.writer.writerow(record)

    def _write_quoted(self, record: list[str]) -> None:
        """A row with every cell quoted (as RFC 4180 allows any cell to be), each long cell
        written in slices so that no one call holds the interpreter lock for long."""
        for position, cell in enumerate(record):
            self.out.write(',"' if position else '"')
            for start in range(0, len(cell), QUOTE_SLICE):
                self.out.write(cell[start : start + QUOTE_SLICE].replace('"', '""'))
            self.out.write('"')
        self.out.write("\r\n")
