"""Multi-level (MLS) boards: `name.l1`..`name.l5`, parents from row order, create-only, and
no rollup values on parent rows. Board 200 of the demo fixture has three levels."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, ServerProcess
from tests.importing import (
    csv_text,
    download_report,
    refusing_name,
    run_import,
    stored_values,
)

MLS = "200"
DOC_EXAMPLE = """name.l1,name.l2,name.l3,status,text
Project A,,,,Top-level item
,Phase 1,,,Child item
,,Task 1,Stuck,Grandchild item
,,Task 2,Working on it,Another grandchild
,Phase 2,,Done,Another child
Project B,,,Working on it,Second top-level item
"""
DOC_PARENTS = {
    "Project A": None, "Phase 1": "Project A", "Task 1": "Phase 1", "Task 2": "Phase 1",
    "Phase 2": "Project A", "Project B": None,
}  # fmt: skip


async def hierarchy(api: Api, board_id: str = MLS) -> dict[str, str | None]:
    """item name -> its parent's name (None at the top), read through `parent_item`."""
    data = await api.gql(
        """query($b: [ID!]) { boards(ids: $b) { items(limit: 500) { id name
            parent_item { id } } } }""",
        {"b": [board_id]},
    )
    items = data["boards"][0]["items"]
    names = {item["id"]: item["name"] for item in items}
    assert len(names) == len({item["name"] for item in items}), "item names are unique here"
    return {
        item["name"]: names[item["parent_item"]["id"]] if item["parent_item"] else None
        for item in items
    }


def mls_rows(rows: list[tuple[int, str, dict[str, str]]], columns: list[str]) -> str:
    """(level, name, {column: cell}) rows as an MLS file with three level columns."""
    header = ["name.l1", "name.l2", "name.l3", *columns]
    body = []
    for level, name, cells in rows:
        levels = ["", "", ""]
        levels[level - 1] = name
        body.append([*levels, *(cells.get(c, "") for c in columns)])
    return csv_text(header, body)


async def mls_report(status: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The report's rows keyed by the name in whichever level column holds it."""
    rows = await download_report(status)
    return {next(r[c] for c in ("name.l1", "name.l2", "name.l3") if r[c]): r for r in rows}


async def test_documented_mls_example_creates_the_hierarchy(api: Api) -> None:
    status = await run_import(api, DOC_EXAMPLE, board_id=MLS)
    assert status["status"] == "COMPLETED", status
    assert status["counts"] == {
        "submitted": 6, "invalid": 0, "skipped": 0, "created": 6, "updated": 0, "failed": 0
    }  # fmt: skip
    assert status["fully_imported"] is True
    assert await hierarchy(api) == DOC_PARENTS
    stored = await stored_values(api, MLS)
    assert stored["Project A"] == {"text": ("Top-level item", "Top-level item")}
    assert stored["Task 1"] == {
        "status": ("Stuck", {"index": 2, "label": "Stuck"}),
        "text": ("Grandchild item", "Grandchild item"),
    }
    assert stored["Phase 2"]["status"][0] == "Done"


async def test_backfill_creates_the_same_hierarchy(api: Api) -> None:
    status = await run_import(api, DOC_EXAMPLE, board_id=MLS, mutation="backfill_items")
    assert status["counts"]["created"] == 6, status
    assert await hierarchy(api) == DOC_PARENTS


async def test_name_header_is_accepted_for_the_top_level(api: Api) -> None:
    status = await run_import(api, "name,name.l2\nTop,\n,Child\n", board_id=MLS)
    assert status["counts"]["created"] == 2, status
    assert await hierarchy(api) == {"Top": None, "Child": "Top"}


async def test_children_find_parents_written_in_an_earlier_chunk(api: Api) -> None:
    rows = [(1, "Root", {})] + [(2, f"Child {n}", {}) for n in range(1_100)]
    rows += [(3, "Grandchild", {})]
    status = await run_import(api, mls_rows(rows, []), board_id=MLS)
    assert status["counts"]["created"] == 1_102, status
    data = await api.gql(
        """query { boards(ids: [200]) { items(limit: 500, page: 3) { name
            parent_item { name } } } }"""
    )
    last = {i["name"]: i["parent_item"]["name"] for i in data["boards"][0]["items"]}
    assert last["Child 1099"] == "Root" and last["Grandchild"] == "Child 1099"


async def test_row_with_names_in_two_level_columns_is_invalid(api: Api) -> None:
    body = "name.l1,name.l2,name.l3\nProject A,,\nPhase 1,Phase one,\n,Phase 2,\n"
    status = await run_import(api, body, board_id=MLS)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 1 and status["counts"]["invalid"] == 2, status
    report = await download_report(status)
    assert [(r["name.l1"], r["__line"], r["__status"]) for r in report] == [
        ("Phase 1", "3", "invalid"), ("", "4", "invalid")
    ]  # fmt: skip
    assert report[0]["__errors"].startswith("name: NAME_IN_SEVERAL_LEVELS: "), report
    assert "more than one level" in report[0]["__errors"]
    # the invalid row stands at its shallowest level, so it is the most recent level-1 row:
    # Phase 2 would be its child, and is not moved under Project A
    assert report[1]["__errors"].startswith("name: MISSING_PARENT: "), report
    assert await hierarchy(api) == {"Project A": None}


async def test_a_parent_is_the_most_recent_row_at_the_previous_level(api: Api) -> None:
    # the doc's rule: "A row's parent is the most recent earlier row at the previous level";
    # Project B between them does not change that Phase 1 is the task's parent
    body = "name.l1,name.l2,name.l3\nProject A,,\n,Phase 1,\nProject B,,\n,,Task\n"
    status = await run_import(api, body, board_id=MLS)
    assert status["counts"]["created"] == 4 and status["counts"]["invalid"] == 0, status
    assert await hierarchy(api) == {
        "Project A": None, "Phase 1": "Project A", "Project B": None, "Task": "Phase 1"
    }  # fmt: skip


async def test_row_without_a_parent_is_invalid(api: Api) -> None:
    body = (
        "name.l1,name.l2,name.l3\n"
        ",Orphan child,\n"  # nothing above it
        "Project A,,\n"
        ",,Skipped a level\n"  # its most recent level-2 row is the invalid orphan
        ",Phase 1,\n"
        ",,Task 1\n"
    )
    status = await run_import(api, body, board_id=MLS)
    assert status["counts"]["created"] == 3 and status["counts"]["invalid"] == 2, status
    report = await download_report(status)
    assert [(r["__line"], r["__status"]) for r in report] == [("2", "invalid"), ("4", "invalid")]
    for row in report:
        assert row["__errors"].startswith("name: MISSING_PARENT: "), row
    assert "level 1" in report[0]["__errors"] and "level 2" in report[1]["__errors"]
    assert await hierarchy(api) == {"Project A": None, "Phase 1": "Project A", "Task 1": "Phase 1"}


async def test_child_of_an_invalid_row_is_invalid_not_moved_to_another_parent(api: Api) -> None:
    rows: list[tuple[int, str, dict[str, str]]] = [
        (1, "Project A", {}),
        (2, "Phase 1", {}),
        (2, "Phase 2", {"status": "Bogus"}),  # invalid
        (3, "Task of phase 2", {}),  # its parent is Phase 2, not Phase 1
        (1, "Project B", {"status": "Bogus"}),  # invalid
        (2, "Phase of project B", {}),  # its parent is Project B, not Project A
    ]
    status = await run_import(api, mls_rows(rows, ["status"]), board_id=MLS)
    assert status["counts"]["created"] == 2 and status["counts"]["invalid"] == 4, status
    report = await mls_report(status)
    assert report["Task of phase 2"]["__errors"].startswith("name: MISSING_PARENT: ")
    assert report["Phase of project B"]["__errors"].startswith("name: MISSING_PARENT: ")
    assert await hierarchy(api) == {"Project A": None, "Phase 1": "Project A"}


async def test_on_match_is_refused_on_a_multi_level_board(api: Api) -> None:
    for behaviour in ("UPSERT", "SKIP"):
        response = await api.post(
            """mutation($m: ItemsJobOnMatchInput) { ingest_items(board_id: "200",
                group_id: "topics", on_match: $m) { job_id upload_url } }""",
            {"m": {"behaviour": behaviour, "match_column_id": "text"}},
        )
        body = response.json()
        assert response.status_code == 200 and body["data"] is None, body
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert "create-only" in error["message"] and "multi-level" in error["message"], error


@pytest.mark.parametrize(
    ("header", "named"),
    [("name.l1,name.l4", "'name.l4'"), ("name.l1,name.l3", "without gaps"),
     ("name,name.l1", "not both")],
)  # fmt: skip
async def test_level_headers_that_do_not_fit_the_board_reject_the_file(
    api: Api, header: str, named: str
) -> None:
    status = await run_import(api, f"{header}\nA,\n", board_id=MLS)
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "INVALID_UPLOAD"
    assert named in status["failure_message"], status
    assert await hierarchy(api) == {}


ROLLUP_BOARD: dict[str, Any] = {
    "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
    "boards": [{
        "id": 210, "account_id": 1, "name": "Estimates", "hierarchy_levels": 3,
        "members": [{"user_id": 10, "role": "OWNER"}],
        "columns": [
            {"id": "estimate", "type": "numbers", "settings": {"rollup": True}},
            {"id": "text", "type": "text"},
        ],
    }],
}  # fmt: skip


async def test_parent_rows_may_not_set_rollup_columns(api: Api) -> None:
    await api.load_fixture(ROLLUP_BOARD)
    rows: list[tuple[int, str, dict[str, str]]] = [
        (1, "Parent with total", {"estimate": "5", "text": "x"}),  # has a child: invalid
        (2, "Its child", {"estimate": "5"}),
        (1, "Parent without total", {"text": "fine"}),
        (2, "Leaf with estimate", {"estimate": "3"}),  # a leaf may set it
        (1, "Top-level leaf", {"estimate": "7"}),  # no children: a leaf too
    ]
    status = await run_import(api, mls_rows(rows, ["estimate", "text"]), board_id="210")
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 3 and status["counts"]["invalid"] == 2, status
    by_line = {row["__line"]: row for row in await download_report(status)}
    assert set(by_line) == {"2", "3"}
    assert "ROLLUP_ON_PARENT" in by_line["2"]["__errors"], by_line
    assert "rollup" in by_line["2"]["__errors"]
    assert "MISSING_PARENT" in by_line["3"]["__errors"], by_line
    stored = await stored_values(api, "210")
    assert set(stored) == {"Parent without total", "Leaf with estimate", "Top-level leaf"}
    assert stored["Leaf with estimate"]["estimate"][0] == "3"
    assert stored["Top-level leaf"]["estimate"][0] == "7"


async def test_children_of_a_parent_the_database_refuses_are_not_created(
    api: Api, server: ServerProcess
) -> None:
    async with refusing_name(server, "Phase 1"):
        status = await run_import(api, DOC_EXAMPLE, board_id=MLS)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 3, status  # Project A, Phase 2, Project B
    assert status["counts"]["failed"] == 3, status
    report = {row["__line"]: row for row in await download_report(status)}
    assert set(report) == {"3", "4", "5"}
    assert {row["__status"] for row in report.values()} == {"failed"}
    assert await hierarchy(api) == {"Project A": None, "Phase 2": "Project A", "Project B": None}
