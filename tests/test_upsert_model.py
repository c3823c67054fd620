"""Imports matched by key against a model of their rules (UPSERT, SKIP, UPDATE): random
files of a few chunks whose keys repeat within and across chunks, match the board's item,
clear and keep values; the board must end as the model says, whichever way each row was
written (COPY for created rows, an update statement for the others)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from server.imports import planning
from tests.conftest import Api, ServerProcess
from tests.importing import csv_text, items_by_email, run_import

EXISTING = "old@acme.example.com"  # the demo board's one item, "Existing lead"
VALUED = ("numeric", "text")


@dataclass
class Model:
    """What the board holds after the rows, matched on email with `behaviour`."""

    behaviour: str

    keyed: dict[str, dict[str, str | None]] = field(
        default_factory=lambda: {EXISTING: {"name": "Existing lead", "numeric": None, "text": None}}
    )
    keyless: list[dict[str, str | None]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "invalid": 0, "skipped": 0}
    )

    def apply(self, name: str, email: str, cells: dict[str, str]) -> None:
        if cells["numeric"] == "x":  # not a number: the row is invalid, nothing changes
            self.counts["invalid"] += 1
            return
        # an empty cell keeps the stored value; <NULL> clears it (nothing to store on a create,
        # and outside UPSERT and UPDATE it is an empty cell)
        given = {c: None if v == "<NULL>" else v for c, v in cells.items() if v}
        item = self.keyed.get(email) if email else None
        if item is None and self.behaviour == "UPDATE":  # never creates
            self.counts["skipped"] += 1
        elif item is None and not name:  # a created item needs a name
            self.counts["invalid"] += 1
        elif item is None:
            created = {"name": name, **{c: given.get(c) for c in VALUED}}
            (self.keyed.__setitem__(email, created) if email else self.keyless.append(created))
            self.counts["created"] += 1
        elif self.behaviour == "SKIP":
            self.counts["skipped"] += 1
        else:
            item.update(name=name or item["name"], **given)  # an empty name keeps the item's
            self.counts["updated"] += 1


def random_rows(seed: int, rows: int, keys: int) -> list[list[str]]:
    chance = random.Random(seed)

    def email() -> str:
        pick = chance.random()
        return "" if pick < 0.03 else EXISTING if pick < 0.06 else f"k{chance.randrange(keys)}@x.io"

    def cell(invalid: bool) -> str:
        pick = chance.random()
        if pick < 0.3:
            return ""
        if pick < 0.4:
            return "<NULL>"
        return "x" if invalid and pick < 0.42 else str(chance.randrange(1000))

    def name(n: int) -> str:
        return "" if chance.random() < 0.05 else f"row {n}"

    return [[name(n), email(), cell(True), cell(False)] for n in range(rows)]


@pytest.mark.parametrize(
    ("behaviour", "seed"), [("UPSERT", 1), ("UPSERT", 2), ("SKIP", 3), ("UPDATE", 4)]
)
async def test_a_matched_import_ends_as_the_model_says(
    api: Api, server: ServerProcess, behaviour: str, seed: int
) -> None:
    rows = random_rows(seed, 2 * planning.CHUNK_ROWS + 300, keys=700)
    model = Model(behaviour)
    for name, email, numeric, text in rows:
        model.apply(name, email, {"numeric": numeric, "text": text})
    status = await run_import(
        api, csv_text(["name", "email", *VALUED], rows),
        on_match={"behaviour": behaviour, "match_column_id": "email"},
    )  # fmt: skip
    assert status["status"] == "COMPLETED", status
    assert status["counts"] == {"submitted": len(rows), "failed": 0, **model.counts}
    stored = await items_by_email(server)
    keyed = {r["email"]: {"name": r["name"], "numeric": r["numeric"], "text": r["text"]}
             for r in stored if r["email"]}  # fmt: skip
    assert len(keyed) == len([r for r in stored if r["email"]])  # no key on two items
    assert keyed == model.keyed

    def order(item: dict[str, str | None]) -> str:
        return str(item["name"])

    keyless = [
        {"name": r["name"], "numeric": r["numeric"], "text": r["text"]}
        for r in stored
        if not r["email"]
    ]
    assert sorted(keyless, key=order) == sorted(model.keyless, key=order)
