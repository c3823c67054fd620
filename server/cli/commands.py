"""The command line: `import` (monday's three steps), `export` and `template` (Blue's)."""

from __future__ import annotations

import argparse
import json
import math
import os
import stat
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from server.cli import blue, monday
from server.cli.client import DEFAULT_URL, Client, ClientError

EXIT_OK = 0  # COMPLETED, nothing invalid or failed; or an export/template saved
EXIT_ROWS = 1  # COMPLETED, but some rows were invalid or failed
EXIT_ERROR = 2  # FAILED/REJECTED, a GraphQL or transport error, or a usage error
EXIT_INTERRUPTED = 130  # Ctrl+C, as a shell reports SIGINT
DEFAULT_WAIT = 600.0  # seconds to wait for a job or an export to end
BAR_WIDTH = 30  # characters of the progress bar
# Without a terminal (a CI log, a file) a line per new status, and while the status stays
# the same a line with its progress at most this often: a bar redrawn every second filled
# logs with carriage returns.
LINE_INTERVAL = 10.0  # seconds
COUNTS = ("submitted", "created", "updated", "skipped", "invalid", "failed")

DESCRIPTION = """\
A command-line client of importserver (and of any server with the same API).

  import FILE --board ID [--group G] [--backfill]
         [--upsert COLUMN | --skip COLUMN | --update COLUMN] [--ignore-empty | --no-ignore-empty]
         [--dry-run] [--report failed|all] [--encoding CHARSET] [--map COLUMN=INDEX[:DEFAULT]]...
         [--callback URL] [--out REPORT.csv] [--json]
      monday's bulk import: ingest_items (backfill_items with --backfill), PUT the file to the
      pre-signed upload URL, poll fetch_job_status every second with a progress bar on stderr
      (on a terminal; else a line per new status, IMPORTSERVER_PROGRESS=bar|lines to choose),
      print the counts and the final status, save the report CSV when the server made one
      (default FILE with the suffix .report.csv).
  export --project P [--out F] [--list TITLE]... [--tag NAME]... [--assignee USER_ID]...
         [--done | --no-done] [--due-from DATE] [--due-to DATE]
      Blue's exportTodos: wait for the link in the EXPORT event of
      subscribeToImportExportProgress and download the CSV (default P-export.csv).
  template --project P [--out F]
      Blue's exportCSVTemplate: download the workspace's blank import template
      (default P-template.csv).

Every command also takes --url URL (env IMPORTSERVER_URL, default http://127.0.0.1:8000),
--token T (env IMPORTSERVER_TOKEN), --api-version YYYY-MM, --timeout SECONDS (default 600)
and -q/--quiet. `python -m server.cli COMMAND --help` describes each flag.

Exit status: 0 done (an import COMPLETED with no invalid or failed rows); 1 an import
COMPLETED with invalid or failed rows; 2 a job FAILED or REJECTED, an API error (its code and
message are printed on stderr) or a usage error; 130 interrupted (Ctrl+C).
"""

IMPORT_EPILOG = """\
examples:
  python -m server.cli import leads.csv --board 100 --group topics --token tok-ada
  python -m server.cli import leads.csv --board 100 --upsert email --report all
  python -m server.cli import leads.csv --board 100 --dry-run --out check.csv
  python -m server.cli import legacy.csv --board 100 --backfill --encoding ISO-8859-1
  python -m server.cli import raw.csv --board 100 --map name=0 --map status=2:Working\\ on\\ it
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a token is needed: --token T or the IMPORTSERVER_TOKEN variable")
    progress = Progress(sys.stderr, enabled=not args.quiet, bar=wants_bar(sys.stderr))
    try:
        with Client(args.url, args.token, api_version=args.api_version) as client:
            result: int = args.run(client, args, progress)
            return result
    except ClientError as exc:
        progress.finish()
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # the file to import, or the one to write
        progress.finish()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # a job goes on on the server: JobWatch named it
        progress.finish()
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def wants_bar(stream: TextIO) -> bool:
    """The bar on a terminal only, as common command-line tools do; `IMPORTSERVER_PROGRESS`
    set to `bar` or `lines` overrides that."""
    forced = os.environ.get("IMPORTSERVER_PROGRESS", "").strip().lower()
    if forced in ("bar", "lines"):
        return forced == "bar"
    try:
        return stream.isatty()
    except ValueError:  # a closed stream
        return False


def positive_seconds(text: str) -> float:
    """`--timeout`: a number of seconds above 0 (`inf` waits for good). A negative one started
    the job and gave up at once; `nan` never compared past the deadline."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    server = common.add_argument_group("server")
    server.add_argument(
        "--url",
        default=os.environ.get("IMPORTSERVER_URL", DEFAULT_URL),
        help="server base URL (env IMPORTSERVER_URL; default %(default)s)",
    )
    server.add_argument(
        "--token",
        default=os.environ.get("IMPORTSERVER_TOKEN"),
        help="API token, sent as the Authorization header (env IMPORTSERVER_TOKEN)",
    )
    server.add_argument(
        "--api-version",
        metavar="YYYY-MM",
        help="API-Version header (default: the server's current version)",
    )
    server.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help="how long to wait for the job or export to end, above 0 (default %(default)g; "
        "inf: no limit)",
    )
    server.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar or progress messages on stderr (errors still go there)",
    )

    parser = argparse.ArgumentParser(
        prog="python -m server.cli",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _add_import(commands, common)
    _add_export(commands, common)
    _add_template(commands, common)
    return parser


def _add_import(commands: Any, common: argparse.ArgumentParser) -> None:
    command = commands.add_parser(
        "import",
        parents=[common],
        help="import a CSV file into a board (monday's three steps)",
        description="Import a CSV file into a board with monday's three-step bulk import.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(run=run_import)
    command.add_argument(
        "file", type=Path, metavar="FILE", help="the CSV file to upload (or a pipe: /dev/stdin)"
    )
    command.add_argument("--board", required=True, metavar="ID", help="board id")
    command.add_argument(
        "--group", metavar="G", help="group for new items (default: the board's top group)"
    )
    command.add_argument(
        "--backfill",
        action="store_true",
        help="use backfill_items (admin only, create-only, no item budget) instead of ingest_items",
    )
    match = command.add_mutually_exclusive_group()
    match.add_argument(
        "--upsert",
        metavar="COLUMN",
        help="on_match UPSERT: update the item whose COLUMN matches the row, else create",
    )
    match.add_argument(
        "--skip", metavar="COLUMN", help="on_match SKIP: leave matched items alone, create others"
    )
    match.add_argument(
        "--update",
        metavar="COLUMN",
        help="on_match UPDATE: update matched items, skip the other rows, never create",
    )
    command.add_argument(
        "--ignore-empty",
        action=argparse.BooleanOptionalAction,
        help="with --no-ignore-empty an empty cell clears a matched item's value",
    )
    command.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the whole file and produce the report, write nothing",
    )
    command.add_argument(
        "--report",
        choices=["failed", "all"],
        help="report rows: failed (default: rows not created or updated) or all (every row "
        "with its outcome and item id)",
    )
    command.add_argument(
        "--encoding", metavar="CHARSET", help="the file's character_encoding (default UTF-8)"
    )
    command.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=INDEX[:DEFAULT]",
        help="field_mappings: read COLUMN from the 0-based CSV column INDEX, DEFAULT for empty "
        "cells (repeat for each column)",
    )
    command.add_argument(
        "--callback", metavar="URL", help="POST the final job status to URL (signed)"
    )
    command.add_argument(
        "--out",
        type=Path,
        metavar="REPORT.csv",
        help="where to save the report (default: FILE with the suffix .report.csv)",
    )
    command.add_argument(
        "--json", action="store_true", help="print the final job status as JSON on stdout"
    )


def _add_export(commands: Any, common: argparse.ArgumentParser) -> None:
    command = commands.add_parser(
        "export",
        parents=[common],
        help="export a workspace's records as CSV (Blue's exportTodos)",
        description="Export a workspace's records: exportTodos, then wait for the link in "
        "the EXPORT event of subscribeToImportExportProgress and download the CSV.",
    )
    command.set_defaults(run=run_export)
    command.add_argument(
        "--project", required=True, metavar="P", help="workspace id, numeric id or slug"
    )
    command.add_argument(
        "--out", type=Path, metavar="F", help="where to save it (default: P-export.csv)"
    )
    filters = command.add_argument_group("filter (all optional; repeat a flag for several)")
    filters.add_argument("--list", action="append", metavar="TITLE", help="list title")
    filters.add_argument("--tag", action="append", metavar="NAME", help="tag name")
    filters.add_argument("--assignee", action="append", metavar="USER_ID", help="assignee id")
    filters.add_argument(
        "--done", action=argparse.BooleanOptionalAction, help="done (or with --no-done, open)"
    )
    filters.add_argument("--due-from", metavar="DATE", help="due on or after (ISO 8601)")
    filters.add_argument("--due-to", metavar="DATE", help="due on or before (ISO 8601)")


def _add_template(commands: Any, common: argparse.ArgumentParser) -> None:
    command = commands.add_parser(
        "template",
        parents=[common],
        help="download a workspace's blank CSV import template (Blue's exportCSVTemplate)",
        description="Download a workspace's blank CSV import template (exportCSVTemplate).",
    )
    command.set_defaults(run=run_template)
    command.add_argument(
        "--project", required=True, metavar="P", help="workspace id, numeric id or slug"
    )
    command.add_argument(
        "--out", type=Path, metavar="F", help="where to save it (default: P-template.csv)"
    )


def import_options(args: argparse.Namespace) -> dict[str, Any]:
    """The mutation's optional arguments from the flags (None for those not given)."""
    on_match = None
    for behaviour in ("upsert", "skip", "update"):
        column = getattr(args, behaviour)
        if column:
            on_match = {"behaviour": behaviour.upper(), "match_column_id": column}
    return {
        "on_match": on_match,
        "ignore_empty": args.ignore_empty,
        "field_mappings": [parse_mapping(text) for text in args.map] or None,
        "character_encoding": args.encoding,
        "callback": {"url": args.callback, "method": "POST"} if args.callback else None,
        "dry_run": True if args.dry_run else None,
        "report": {"failed": "FAILED_ROWS", "all": "ALL_ROWS"}.get(args.report or ""),
    }


def parse_mapping(text: str) -> dict[str, Any]:
    """`COLUMN=INDEX[:DEFAULT]` as an ItemsJobFieldMapping."""
    column, _, rest = text.partition("=")
    index, _, default = rest.partition(":")
    if not column or not index.strip().isdecimal():  # isdigit() lets "²" through to int()
        raise ClientError("BAD_USER_INPUT", f"--map {text!r}: expected COLUMN=INDEX[:DEFAULT]")
    return {"column_id": column, "index": int(index), "default_value": default or None}


def run_import(client: Client, args: argparse.Namespace, progress: Progress) -> int:
    options = import_options(args)
    if args.backfill and (options["on_match"] or options["ignore_empty"] is not None):
        raise ClientError(
            "BAD_USER_INPUT",
            "backfill_items is create-only: no --upsert/--skip/--update/--ignore-empty",
        )
    with args.file.open("rb") as stream:
        content, size = upload_body(stream)
        report_path = args.out or default_report_path(args.file, piped=isinstance(content, bytes))
        check_destination(report_path)
        if report_path.exists() and report_path.samefile(args.file):
            raise ClientError("BAD_USER_INPUT", f"--out {report_path} would overwrite FILE")
        status = upload_and_wait(client, args, progress, content, size, options)
    progress.finish()
    try:
        saved = save_report(client, status, report_path)
    except (ClientError, OSError):
        show_result(status, None, args)  # the job's outcome, which the error would hide
        raise
    show_result(status, saved, args)
    return exit_status(status)


def save_report(client: Client, status: dict[str, Any], path: Path) -> Path | None:
    """Download the job's report to `path`, if it has one; where it went."""
    if not (status["report_created"] and status["report_url"]):
        return None
    download_file(client, status["report_url"], path)
    return path


def show_result(status: dict[str, Any], report_path: Path | None, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps({**status, "report_path": str(report_path) if report_path else None}))
    else:
        print_status(status, report_path, dry_run=bool(args.dry_run))


def default_report_path(file: Path, *, piped: bool) -> Path:
    """FILE with the suffix .report.csv; for a pipe, in the current folder (not
    /dev/stdin.report.csv or /dev/fd/63.report.csv)."""
    return Path(file.name if piped else file).with_suffix(".report.csv")


def upload_body(stream: BinaryIO) -> tuple[bytes | BinaryIO, int]:
    """The file as the PUT sends it, and its size: a regular file streamed; a pipe
    (`/dev/stdin`, `<(...)`) read whole first, as its size is known only at its end and S3
    wants it up front (its stat size 0 failed the PUT with "Too much data for declared
    Content-Length", the job left waiting for its file)."""
    info = os.fstat(stream.fileno())
    if stat.S_ISREG(info.st_mode):
        return stream, info.st_size
    data = stream.read()
    return data, len(data)


def upload_and_wait(
    client: Client,
    args: argparse.Namespace,
    progress: Progress,
    content: bytes | BinaryIO,
    size: int,
    options: dict[str, Any],
) -> dict[str, Any]:
    """monday's three steps with their progress shown; the final status."""
    group = args.group or monday.first_group(client, args.board)
    watch = JobWatch(progress)

    def started(job: monday.StartedJob) -> None:
        watch.job_id = job.job_id
        progress.message(f"job {job.job_id}: uploading {args.file} ({size} bytes)")

    def polled(status: dict[str, Any]) -> None:
        progress.job(f"job {watch.job_id}", status)

    def retried(error: ClientError, seconds: float) -> None:
        progress.message(
            f"job {watch.job_id}: status check failed ({error.code}: {error.message}); "
            f"asking again in {seconds:.0f} s"
        )

    try:
        return monday.run_import(
            client, args.board, group, content, size=size, backfill=args.backfill,
            options=options, timeout=args.timeout, on_started=started,
            on_uploaded=watch.uploaded_file, on_status=polled, patient=True,
            on_retry=retried,
        )  # fmt: skip
    except (ClientError, KeyboardInterrupt):
        watch.explain(sys.stderr)
        raise


def check_destination(path: Path) -> None:
    """Refuse, before anything starts, a file that could not be written at the end: the job
    (or the rate-limited export) ran, and the error hid its outcome."""
    if path.is_dir():
        raise ClientError("BAD_USER_INPUT", f"{path} is a folder: name a file to write")
    if not path.parent.is_dir():
        raise ClientError("BAD_USER_INPUT", f"{path}: there is no folder {path.parent}")


class JobWatch:
    """What a client that stops early (Ctrl+C, an error) says about the job it leaves on the
    server, even with --quiet: its id, and whether its file was uploaded."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.job_id: str | None = None
        self.uploaded = False

    def uploaded_file(self) -> None:
        self.uploaded = True

    def explain(self, stream: TextIO) -> None:
        self.progress.finish()
        if self.job_id is None:
            return
        if self.uploaded:
            note = f'it goes on on the server: fetch_job_status(job_id: "{self.job_id}")'
        else:
            note = "its file may not be uploaded: the job waits until its upload URL expires"
        print(f"job {self.job_id}: {note}", file=stream, flush=True)


def exit_status(status: dict[str, Any]) -> int:
    if status["status"] != "COMPLETED":
        return EXIT_ERROR
    counts = status["counts"]
    return EXIT_ROWS if counts["invalid"] or counts["failed"] else EXIT_OK


def print_status(status: dict[str, Any], report_path: Path | None, *, dry_run: bool) -> None:
    print(f"job {status['job_id']}: {status['status']}")
    if status["failure_reason"]:
        print(f"failure: {status['failure_reason']}: {status['failure_message']}")
    for name in COUNTS:
        print(f"{name}: {status['counts'][name]}")
    if dry_run:
        print("dry run: nothing was written")
    if report_path is not None:
        print(f"report: {report_path}")


def run_export(client: Client, args: argparse.Namespace, progress: Progress) -> int:
    record_filter = {
        "listTitles": args.list,
        "tagNames": args.tag,
        "assigneeIds": args.assignee,
        "done": args.done,
        "dueDateFrom": args.due_from,
        "dueDateTo": args.due_to,
    }
    out = args.out or Path(f"{args.project}-export.csv")
    check_destination(out)
    event = blue.export_records(
        client,
        args.project,
        record_filter={k: v for k, v in record_filter.items() if v is not None},
        timeout=args.timeout,
        on_event=progress.export,
    )
    progress.finish()
    download_file(client, str(event["fileUrl"]), out)
    print(f"exported {event.get('totalCount')} records to {out}")
    return EXIT_OK


def run_template(client: Client, args: argparse.Namespace, progress: Progress) -> int:
    out = args.out or Path(f"{args.project}-template.csv")
    check_destination(out)
    url = blue.export_template(client, args.project)
    download_file(client, url, out)
    print(f"template saved to {out}")
    return EXIT_OK


def download_file(client: Client, url: str, path: Path) -> None:
    """Download to `path` through `path.part`, renamed once whole: a broken or interrupted
    download left a truncated CSV under the final name, to be taken for a whole one. A path
    that is no regular file (/dev/stdout, a pipe) is written as it is."""
    if path.exists() and not path.is_file():
        with path.open("wb") as out:
            client.download_to(url, out)
        return
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb") as out:
            client.download_to(url, out)
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


class Progress:
    """Progress on a stream (stderr): a one-line, carriage-return bar on a terminal (`bar`),
    else plain lines (`name: STATUS 40.0%`), one per new status and, while the status stays,
    one at most every LINE_INTERVAL seconds when the progress moved."""

    def __init__(self, stream: TextIO, *, enabled: bool = True, bar: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.bar = bar
        self.drawn = False
        self.width = 0  # characters of the line drawn last
        self.shown: tuple[str, str, float] | None = None  # the last plain line's name, status, %
        self.shown_at = 0.0  # time.monotonic() of the last plain line

    def message(self, text: str) -> None:
        if self.enabled:
            self.finish()
            print(text, file=self.stream, flush=True)

    def draw(self, percent: float, label: str) -> None:
        if not self.enabled:
            return
        percent = max(0.0, min(100.0, percent))
        filled = round(BAR_WIDTH * percent / 100)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = f"[{bar}] {percent:5.1f}% {label}"
        # padded to the last line's width: a shorter status left the end of a longer one
        # ("PROCESSINGNG" after UPLOAD_PENDING)
        self.stream.write(f"\r{line:<{self.width}}")
        self.stream.flush()
        self.drawn = True
        self.width = len(line)

    def update(self, name: str, percent: float, status: str) -> None:
        """Show `name`'s status and progress: on the bar, or as a plain line when it says
        something new."""
        if not self.enabled:
            return
        if self.bar:
            self.draw(percent, status)
            return
        percent = max(0.0, min(100.0, percent))
        now = time.monotonic()
        shown = self.shown
        if (
            shown is not None
            and shown[:2] == (name, status)
            and (shown[2] == percent or now - self.shown_at < LINE_INTERVAL)
        ):
            return
        self.message(f"{name}: {status} {percent:.1f}%")
        self.shown, self.shown_at = (name, status, percent), now

    def finish(self) -> None:
        """End the bar's line, if one is drawn."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
            self.width = 0

    def job(self, name: str, status: dict[str, Any]) -> None:
        self.update(name, float(status.get("progress_percentage") or 0), str(status["status"]))

    def export(self, event: dict[str, Any]) -> None:
        self.update("export", float(event.get("progress") or 0), str(event.get("status")))
