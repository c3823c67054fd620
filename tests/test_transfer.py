"""Planned rows and Blue records pickle as constructor calls with every field."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle

import pytest

from server.imports import cells, transfer
from server.imports.blue import Record
from server.imports.writer import PlannedRow


def test_a_planned_row_comes_back_with_every_field() -> None:
    row = PlannedRow(
        line=7, cells=["Acme", "Done"], status="updated", name="Acme", level=2, parent_line=3,
        item_id=90, match_line=None, parent_id=12, document=b'{"a":1}', clears=["b"],
        errors=[{"column_id": "c", "code": "X", "message": "m"}],
    )  # fmt: skip
    assert pickle.loads(pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)) == row


def test_a_blue_record_comes_back_with_every_field() -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    record = Record(
        line=3, raw=["x"], name="Task", list_title="Todo", done=True, start_date=moment,
        due_date=moment, description="d", color="red", created_at=moment, updated_at=moment,
        creator_id=5, assignee_ids=[5, 6], tags=["t"], values={"c": cells.Cell("v", "v")},
        errors=[{"column": "c", "code": "X", "message": "m"}], document=b"{}",
    )  # fmt: skip
    assert pickle.loads(pickle.dumps(record)) == record


def test_every_field_is_a_constructor_argument_or_the_class_is_refused() -> None:
    @dataclasses.dataclass
    class Hidden:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    with pytest.raises(TypeError, match="positional"):
        transfer.by_fields(Hidden)


@transfer.by_fields
@dataclasses.dataclass
class One:
    only: int


@transfer.by_fields
@dataclasses.dataclass
class Two:
    first: int
    second: list[str] = dataclasses.field(default_factory=list)


def test_one_field_or_several_travel() -> None:
    assert pickle.loads(pickle.dumps(One(3))) == One(3)
    assert pickle.loads(pickle.dumps(Two(1, ["x"]))) == Two(1, ["x"])
