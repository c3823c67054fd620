"""The benchmark's inputs: the bench fixture (boards, users, relation targets) and the CSV files.

Everything is generated from a fixed seed, so two runs import the same bytes.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 20260701
ACCOUNT_ID = 1  # the demo fixture's enterprise account (Acme); Ada (10) is its admin
OWNER_ID = 10
ROWS = 20_000  # rows of the main file (backfill's limit)
INGEST_ROWS = 10_000  # rows per ingest file (ingest's limit)
BIG_ROWS = 10_000  # rows of the long-text file
BIG_CELL_BYTES = 14_900  # bytes of long text per row: 10,000 rows make about 150 MB
TARGET_ITEMS = 200  # items on the board that board_relation cells point at
BENCH_USERS = 20

TARGET_BOARD = 900
# one fresh board per measurement, so no run sees another's items
BOARDS = {
    "create": 901,
    "upsert": 902,
    "ingest_create": 903,
    "big": 904,
    "poll_paced": 905,
    "poll_closed": 906,
    "blue_sql": 907,
    "blue_copy": 908,
}
STATUS_LABELS = ["Working on it", "Done", "Stuck", "Not started"]
DROPDOWN_LABELS = ["Option A", "Option B", "Option C", "Enterprise", "SMB, EMEA"]

# (column id, title, type, settings): the 12 types of monday's doc, then checkbox and currency.
# Titles avoid Blue's own field names (Title, Tags, Done...) so Blue maps them as custom fields.
COLUMNS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("text", "Notes", "text", {}),
    ("long_text", "Details", "long_text", {}),
    ("numeric", "Score", "numbers", {}),
    ("status", "Stage", "status", {"labels": STATUS_LABELS}),
    ("dropdown", "Labels", "dropdown", {"labels": DROPDOWN_LABELS}),
    ("date", "Deadline", "date", {}),
    ("timeline", "Period", "timeline", {}),
    ("people", "Owner", "people", {}),
    ("phone", "Phone", "phone", {}),
    ("email", "Email", "email", {}),
    ("link", "Website", "link", {}),
    ("account", "Account", "board_relation", {"board_ids": [TARGET_BOARD]}),
    ("checkbox", "Approved", "checkbox", {}),
    ("budget", "Budget", "currency", {"currency": "USD"}),
]
HEADER = ["name", *(c[0] for c in COLUMNS)]
BIG_HEADER = ["name", "text", "long_text"]
# Blue's file: its own fields first, then the board's custom fields by title
BLUE_HEADER = ["Title", "Done", "Due Date", "Assignees", *(c[1] for c in COLUMNS)]

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret",
          "Dennis", "Radia", "Linus", "Guido", "Sophie", "Tim", "Katherine", "John", "Hedy",
          "Niklaus", "Anita"]  # fmt: skip
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
         "Hamilton", "Ritchie", "Perlman", "Torvalds", "van Rossum", "Wilson", "Berners-Lee",
         "Johnson", "Backus", "Lamarr", "Wirth", "Borg"]  # fmt: skip
_COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne",
              "Tyrell", "Soylent", "Cyberdyne", "Massive Dynamic", "Wonka", "Gringotts"]  # fmt: skip
_WORDS = [
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
    "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "enim",
    "ad", "minim", "veniam", "quis", "nostrud", "exercitation", "ullamco", "laboris", "nisi",
    "aliquip", "ex", "ea", "commodo", "consequat", "duis", "aute", "irure", "in",
    "reprehenderit", "voluptate", "velit", "esse", "cillum", "fugiat", "nulla", "pariatur",
    "excepteur", "sint", "occaecat", "cupidatat", "non", "proident", "sunt", "culpa", "qui",
    "officia", "deserunt", "mollit", "anim", "id", "est", "laborum", "customer", "renewal",
    "pipeline", "quarterly", "invoice", "follow-up", "demo", "contract",
]  # fmt: skip
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DOMAINS = ["acme-corp.io", "globex.net", "initech.co", "hooli.dev", "vandelay.org"]


@dataclass(frozen=True)
class Inputs:
    folder: Path
    main: Path  # ROWS rows, the monday header
    ingest: list[Path]  # the same rows, INGEST_ROWS per file
    preload: Path  # the first half of ingest[0]: what the upsert run finds on the board
    big: Path  # long-text rows, about 150 MB
    blue: Path  # the same rows with Blue's headers
    rows: int
    invalid_rows: int
    quoted_share: float  # share of data cells that need CSV quoting


def users() -> list[dict[str, Any]]:
    return [
        {"id": 1001 + n, "account_id": ACCOUNT_ID, "name": f"{_FIRST[n]} {_LAST[n]}",
         "email": f"{_FIRST[n].lower()}.{_LAST[n].lower().replace(' ', '')}@acme.example.com"}
        for n in range(BENCH_USERS)
    ]  # fmt: skip


def target_item_names() -> list[str]:
    rng = random.Random(SEED + 1)
    names = []
    for n in range(TARGET_ITEMS):
        company = _COMPANIES[n % len(_COMPANIES)]
        suffix = rng.choice([" Ltd", ", Inc.", " GmbH", " & Sons", ""])
        names.append(f"{company}{suffix} #{n + 1}")
    return names


def fixture() -> dict[str, Any]:
    """Users, the relation target board and one board per measurement (loaded additively)."""
    bench_users = users()
    members = [{"user_id": OWNER_ID, "role": "OWNER"}] + [
        {"user_id": u["id"], "role": "MEMBER"} for u in bench_users
    ]
    columns = [
        {"id": cid, "title": title, "type": ctype, "settings": settings}
        for cid, title, ctype, settings in COLUMNS
    ]
    boards: list[dict[str, Any]] = [
        {
            "id": TARGET_BOARD, "account_id": ACCOUNT_ID, "name": "Bench accounts",
            "slug": "bench-accounts", "members": members,
            "groups": [{"id": "topics", "title": "Accounts"}],
            "columns": [{"id": "text", "title": "Notes", "type": "text"}],
            "items": [
                {"id": 900_001 + n, "name": name, "group_id": "topics"}
                for n, name in enumerate(target_item_names())
            ],
        }
    ]  # fmt: skip
    for label, board_id in BOARDS.items():
        boards.append(
            {
                "id": board_id, "account_id": ACCOUNT_ID, "name": f"Bench {label}",
                "slug": f"bench-{label.replace('_', '-')}", "members": members,
                "groups": [{"id": "topics", "title": "Leads"}], "columns": columns,
            }
        )  # fmt: skip
    return {"accounts": [], "users": bench_users, "boards": boards}


class _Rows:
    """Realistic cells: mostly clean, about 10% needing quotes, a few invalid."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people = [u["email"] for u in users()]
        self.names = [u["name"] for u in users()]
        self.targets = target_item_names()

    def sentence(self, words: int) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(words)).capitalize()

    def row(self, n: int) -> tuple[list[str], bool]:
        """The n-th data row (name first, then one cell per column) and whether it is invalid."""
        rng = self.rng
        company = rng.choice(_COMPANIES)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        quoted_name = rng.random() < 0.25
        name = f"{company}, {first} {last} #{n}" if quoted_name else f"{company} lead {n:05d}"
        text = self.sentence(rng.randint(3, 9))
        if rng.random() < 0.08:
            text = f'{text}, said "{first}"'
        elif rng.random() < 0.25:
            text = f"{text}, {self.sentence(rng.randint(2, 5)).lower()}"
        long_text = self.sentence(rng.randint(8, 30))
        if rng.random() < 0.3:
            long_text = f"{long_text}.\n{self.sentence(rng.randint(4, 12))}, then done."
        numeric = (
            str(rng.randint(0, 100_000)) if rng.random() < 0.6 else f"{rng.uniform(-50, 5000):.2f}"
        )
        status = rng.choice(STATUS_LABELS)
        dropdown = ", ".join(rng.sample(DROPDOWN_LABELS[:4], rng.randint(1, 2)))
        if rng.random() < 0.05:
            dropdown = '"SMB, EMEA",Option A'
        year, month, day = rng.randint(2024, 2027), rng.randint(1, 12), rng.randint(1, 28)
        date = f"{year}-{month:02d}-{day:02d}"
        if rng.random() < 0.2:
            date += f" {rng.randint(0, 23):02d}:{rng.choice(['00', '15', '30', '45'])}"
        elif rng.random() < 0.05:
            date = f"{_MONTHS[month - 1]} {day}, {year}"
        end_month = min(12, month + rng.randint(0, 3))
        timeline = f"{year}-{month:02d}-{day:02d}/{year}-{end_month:02d}-{day:02d}"
        people = rng.choice(self.people)
        if rng.random() < 0.06:
            people = f"{people}, {rng.choice(self.people)}"
        elif rng.random() < 0.2:
            people = rng.choice(self.names)
        phone = rng.choice(
            [f"+1 415 555 {rng.randint(1000, 9999)}", f"+44 20 7946 {rng.randint(1000, 9999)}",
             f"+49 30 {rng.randint(1000000, 9999999)}", f"415-555-{rng.randint(1000, 9999)} US"]
        )  # fmt: skip
        email = f"{first.lower()}.{last.lower().replace(' ', '')}.{n}@{rng.choice(_DOMAINS)}"
        link = f"https://www.{company.lower().replace(' ', '')}.com/leads/{n}"
        if rng.random() < 0.3:
            link = f"[{company} site]({link})"
        account = rng.choice(self.targets)
        if "," in account:  # a list cell: a name holding a comma is quoted inside the cell
            account = f'"{account}"'
        checkbox = rng.choice(["true", "false", "v", "", "yes"])
        budget = f"{rng.randint(100, 250_000)}.{rng.randint(0, 99):02d}"
        cells = [name, text, long_text, numeric, status, dropdown, date, timeline, people,
                 phone, email, link, account, checkbox, budget]  # fmt: skip
        for index in range(1, len(cells)):  # a realistic share of empty cells
            if index != 10 and rng.random() < 0.07:  # the e-mail (match key) stays
                cells[index] = ""
        invalid = rng.random() < 0.005
        if invalid:
            index, bad = rng.choice(
                [(3, "12,5"), (4, "Finished"), (6, "31/31/2025"), (9, "n/a"),
                 (10, "not-an-email"), (11, "www.no-scheme.com"), (14, "$1,000")]
            )  # fmt: skip
            cells[index] = bad
        return cells, invalid


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _needs_quotes(cell: str) -> bool:
    return any(ch in cell for ch in ',"\n\r')


def _blue_row(cells: list[str], n: int) -> list[str]:
    # Done from the checkbox, Due Date from the date, Assignees from the owner when it is a name
    done = "true" if cells[13] in ("true", "v", "yes") else "false"
    due = cells[6] if cells[6][:4].isdigit() and "/" not in cells[6] else ""
    assignee = cells[8] if "@" not in cells[8] and "," not in cells[8] else ""
    return [cells[0], done, due, assignee, *cells[1:]]


def _write_big(path: Path, seed: int) -> None:
    """Long-text rows written as they are made, so the generator holds one row at a time."""
    rng = random.Random(seed)
    pool = [" ".join(rng.choice(_WORDS) for _ in range(12)) for _ in range(500)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(BIG_HEADER)
        for n in range(BIG_ROWS):
            parts: list[str] = []
            size = 0
            while size < BIG_CELL_BYTES:
                piece = rng.choice(pool)
                if rng.random() < 0.05:
                    piece += ',\n"quoted"'
                parts.append(piece)
                size += len(piece) + 2
            writer.writerow(
                [f"Long row {n:05d}", f"Summary {n}", ". ".join(parts)[:BIG_CELL_BYTES]]
            )


def generate(folder: Path) -> Inputs:
    folder.mkdir(parents=True, exist_ok=True)
    source = _Rows(SEED)
    rows: list[list[str]] = []
    invalid = 0
    for n in range(1, ROWS + 1):
        cells, bad = source.row(n)
        rows.append(cells)
        invalid += bad
    data_cells = [cell for row in rows for cell in row]
    quoted = sum(_needs_quotes(cell) for cell in data_cells) / len(data_cells)
    main = folder / "main_20000.csv"
    _write_csv(main, HEADER, rows)
    ingest = []
    for part in range(ROWS // INGEST_ROWS):
        path = folder / f"ingest_{part + 1}.csv"
        _write_csv(path, HEADER, rows[part * INGEST_ROWS : (part + 1) * INGEST_ROWS])
        ingest.append(path)
    preload = folder / "preload_5000.csv"
    _write_csv(preload, HEADER, rows[: INGEST_ROWS // 2])
    blue = folder / "blue_20000.csv"
    _write_csv(blue, BLUE_HEADER, [_blue_row(r, n) for n, r in enumerate(rows)])
    big = folder / "long_text_150mb.csv"
    _write_big(big, SEED + 2)
    return Inputs(
        folder=folder, main=main, ingest=ingest, preload=preload, big=big, blue=blue,
        rows=ROWS, invalid_rows=invalid, quoted_share=quoted,
    )  # fmt: skip
