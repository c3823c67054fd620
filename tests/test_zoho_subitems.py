"""Parent-child files (`subitems`) with on_match, field-mapping defaults, repeated keys, a
board's depth and the child file's charset."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from tests.conftest import Api, ServerProcess
from tests.importing import OPTION_TYPES, csv_text, database_rows, upload, wait_for_job
from tests.v2 import create_item

BY_NAME = {"parent_key_column_id": "name", "parent_key_header": "parent"}
BY_EMAIL = {"parent_key_column_id": "email", "parent_key_header": "parent_email"}


async def import_both(
    api: Api, parents: bytes | str, children: bytes | str, board_id: str = "100", **options: Any
) -> dict[str, Any]:
    """Start a job with `options` (subitems among them), upload both files, wait for the end."""
    declared = "".join(f", ${name}: {OPTION_TYPES[name]}" for name in options)
    arguments = "".join(f", {name}: ${name}" for name in options)
    query = f"""mutation($b: ID!{declared}) {{ ingest_items(board_id: $b, group_id: "topics"{arguments})
        {{ job_id upload_url subitems_upload_url }} }}"""
    job = (await api.gql(query, {"b": board_id, **options}))["ingest_items"]
    assert (await upload(job["upload_url"], parents)).status_code == 200
    assert (await upload(job["subitems_upload_url"], children)).status_code == 200
    return {**await wait_for_job(api, job["job_id"]), "job_id": job["job_id"]}


async def children_report(api: Api, job_id: str) -> dict[str, str]:
    """Child row name -> its `__status` and `__errors`, from the subitems report."""
    data = await api.gql(
        "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { subitems_report_url } } }",
        {"id": job_id},
    )
    url = data["fetch_job_status"]["subitems_report_url"]
    if url is None:
        return {}
    async with httpx.AsyncClient() as client:
        rows = csv.DictReader(io.StringIO((await client.get(url)).text))
        return {r["name"]: f"{r['__status']} {r['__errors']}".strip() for r in rows}


async def item_tree(
    server: ServerProcess, board_id: int = 100
) -> list[tuple[str, int, str | None]]:
    """(name, level, parent's name) of the board's active items, from the database."""
    rows = await database_rows(
        server,
        "SELECT i.name, i.level, p.name AS parent FROM items i "
        "LEFT JOIN items p ON p.id = i.parent_id "
        "WHERE i.board_id = $1 AND i.state = 'active' ORDER BY i.id",
        board_id,
    )
    return [(r["name"], r["level"], r["parent"]) for r in rows]


def counts(**given: int) -> dict[str, int]:
    keys = ("submitted", "invalid", "skipped", "created", "updated", "failed")
    return {key: given.get(key, 0) for key in keys}


async def test_upsert_matches_top_level_items_only_and_subitems_stay_one_level_deep(
    api: Api, server: ServerProcess
) -> None:
    first = await import_both(api, "name\nP\n", "name,parent\nC,P\n", subitems=BY_NAME)
    assert first["counts"] == counts(submitted=2, created=2), first
    upsert = {"behaviour": "UPSERT", "match_column_id": "name"}
    second = await import_both(
        api, "name\nC\n", "name,parent\nGC,C\n", subitems=BY_NAME, on_match=upsert
    )
    # the main row C is not the subitem C: it creates a top-level item, which GC goes under
    assert second["counts"] == counts(submitted=2, created=2), second
    tree = await item_tree(server)
    assert [row for row in tree if row[0] in ("P", "C", "GC")] == [
        ("P", 1, None), ("C", 2, "P"), ("C", 1, None), ("GC", 2, "C")
    ]  # fmt: skip
    assert max(level for _, level, _ in tree) == 2


async def test_a_child_row_under_the_deepest_level_is_invalid(
    api: Api, server: ServerProcess
) -> None:
    parents = "name.l1,name.l2,name.l3,text\nTop,,,top\n,Middle,,middle\n,,Leaf,leaf\n"
    children = "name,parent_text\nUnder top,top\nUnder middle,middle\nUnder leaf,leaf\n"
    key = {"parent_key_column_id": "text", "parent_key_header": "parent_text"}
    status = await import_both(api, parents, children, board_id="200", subitems=key)
    assert status["counts"] == counts(submitted=6, invalid=1, created=5), status
    report = await children_report(api, status["job_id"])
    assert set(report) == {"Under leaf"}
    assert "PARENT_TOO_DEEP" in report["Under leaf"]
    levels = {name: level for name, level, _ in await item_tree(server, 200)}
    assert levels["Under middle"] == 3 and "Under leaf" not in levels


async def test_a_key_repeated_in_an_upsert_is_one_parent(api: Api, server: ServerProcess) -> None:
    parents = "name,email\nAcme,acme@example.com\nAcme again,acme@example.com\n"
    children = "name,parent_email\nCall Acme,acme@example.com\n"
    upsert = {"behaviour": "UPSERT", "match_column_id": "email"}
    status = await import_both(api, parents, children, subitems=BY_EMAIL, on_match=upsert)
    assert status["counts"] == counts(submitted=3, created=2, updated=1), status
    assert ("Call Acme", 2, "Acme again") in await item_tree(server)


async def test_two_items_with_the_key_are_still_an_ambiguous_parent(api: Api) -> None:
    parents = "name,email\nAcme,acme@example.com\nAcme twin,acme@example.com\n"
    children = "name,parent_email\nCall Acme,acme@example.com\n"
    status = await import_both(api, parents, children, subitems=BY_EMAIL)
    assert status["counts"] == counts(submitted=3, invalid=1, created=2), status
    report = await children_report(api, status["job_id"])
    assert report["Call Acme"].startswith("invalid row: AMBIGUOUS_PARENT: 2 parent items")


async def test_a_default_value_of_the_key_column_is_the_parent_key(
    api: Api, server: ServerProcess
) -> None:
    mappings = [
        {"column_id": "name", "index": 0},
        {"column_id": "email", "index": 1, "default_value": " dflt@example.com"},
    ]
    children = "name,parent_email\nSubD,dflt@example.com\n"
    status = await import_both(
        api, "Who,Mail\nDefaulted,\n", children, subitems=BY_EMAIL, field_mappings=mappings
    )
    assert status["counts"] == counts(submitted=2, created=2), status
    assert ("SubD", 2, "Defaulted") in await item_tree(server)


async def test_update_mode_updates_subitems_by_name_and_creates_none(
    api: Api, server: ServerProcess
) -> None:
    await import_both(api, "name\nDeal\n", "name,parent,text\nCall,Deal,old\n", subitems=BY_NAME)
    update = {"behaviour": "UPDATE", "match_column_id": "name"}
    children = "name,parent,text\nCall,Deal,new\nVisit,Deal,x\n"
    status = await import_both(api, "name\nDeal\n", children, subitems=BY_NAME, on_match=update)
    assert status["counts"] == counts(submitted=3, skipped=1, updated=2), status
    assert await children_report(api, status["job_id"]) == {"Visit": "skipped"}
    tree = await item_tree(server)
    assert [row for row in tree if row[0] in ("Deal", "Call", "Visit")] == [
        ("Deal", 1, None), ("Call", 2, "Deal")
    ]  # fmt: skip
    texts = await api.gql(
        '{ boards(ids: [100]) { items(limit: 100) { name column_values(ids: ["text"]) { text } } } }'
    )
    by_name = {i["name"]: i["column_values"][0]["text"] for i in texts["boards"][0]["items"]}
    assert by_name["Call"] == "new"


async def test_an_upsert_run_twice_does_not_duplicate_subitems(
    api: Api, server: ServerProcess
) -> None:
    upsert = {"behaviour": "UPSERT", "match_column_id": "email"}
    parents = "name,email\nAcme,acme@example.com\n"
    children = (
        "name,parent_email,text\nCall Acme,acme@example.com,1\nCall Acme,acme@example.com,2\n"
    )
    first = await import_both(api, parents, children, subitems=BY_EMAIL, on_match=upsert)
    # the second row of the file updates the subitem the first creates
    assert first["counts"] == counts(submitted=3, created=2, updated=1), first
    again = await import_both(api, parents, children, subitems=BY_EMAIL, on_match=upsert)
    assert again["counts"] == counts(submitted=3, updated=3), again
    names = [name for name, _, _ in await item_tree(server)]
    assert names.count("Call Acme") == 1 and names.count("Acme") == 1


async def test_a_child_file_that_does_not_decode_rejects_the_job(api: Api) -> None:
    parents = "name\nÜber\n".encode("utf-16")
    children = "name,parent\nUnter,Über\n".encode("utf-16-le")  # no BOM: not readable as UTF-16
    status = await import_both(
        api, parents, children, subitems=BY_NAME, character_encoding="UTF-16"
    )
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "INVALID_UPLOAD"
    assert "does not start with BOM" in status["failure_message"]


async def test_a_matched_subitems_cells_clear_as_a_matched_items_do(api: Api) -> None:
    children = "name,parent,text,numeric\nCall,Deal,old,1\nVisit,Deal,keep,2\n"
    await import_both(api, "name\nDeal\n", children, subitems=BY_NAME)
    update = {"behaviour": "UPDATE", "match_column_id": "name"}
    # <NULL> clears a value; with ignore_empty false an empty cell clears it too
    children = "name,parent,text,numeric\nCall,Deal,<NULL>,5\nVisit,Deal,,3\n"
    status = await import_both(
        api, "name\nDeal\n", children, subitems=BY_NAME, on_match=update, ignore_empty=False
    )
    assert status["counts"] == counts(submitted=3, updated=3), status
    items = await api.gql(
        '{ boards(ids: [100]) { items(limit: 100) { name column_values(ids: ["text", "numeric"]) { text } } } }'
    )
    values = {
        i["name"]: [v["text"] for v in i["column_values"]] for i in items["boards"][0]["items"]
    }
    assert values["Call"] == ["", "5"] and values["Visit"] == ["", "3"], values


async def test_a_mapping_without_an_index_in_a_subitems_job(
    api: Api, server: ServerProcess
) -> None:
    # the parent keys' default was looked up as int(index) of every mapping before the key
    # column's: a mapping without an index ended the job FAILED, INTERNAL_ERROR, after the
    # parent file was written
    constant = [{"column_id": "text", "default_value": "crm"}, {"column_id": "name", "index": 0}]
    status = await import_both(
        api, "Who\nP\n", "name,parent\nC,P\n", subitems=BY_NAME, field_mappings=constant
    )
    assert status["counts"] == counts(submitted=2, created=2), status
    assert ("C", 2, "P") in await item_tree(server)
    # the key column itself mapped to a constant: every parent row has that key
    keyed = [
        {"column_id": "name", "index": 0},
        {"column_id": "email", "default_value": "k@example.com"},
    ]
    status = await import_both(
        api, "Who\nQ\n", "name,parent_email\nD,k@example.com\n", subitems=BY_EMAIL,
        field_mappings=keyed,
    )  # fmt: skip
    assert status["counts"] == counts(submitted=2, created=2), status
    assert ("D", 2, "Q") in await item_tree(server)


async def test_a_dry_run_counts_a_repeated_subitem_under_a_new_parent_as_the_run_does(
    api: Api,
) -> None:
    # the child row repeating a name was matched by its parent's item id, which a parent
    # the dry run would create has not: it counted two subitems created where the run
    # creates one and updates it
    upsert = {"behaviour": "UPSERT", "match_column_id": "email"}
    parents = "name,email\nAcme,acme@example.com\n"
    children = (
        "name,parent_email,text\nCall Acme,acme@example.com,1\nCall Acme,acme@example.com,2\n"
    )
    dry = await import_both(
        api, parents, children, subitems=BY_EMAIL, on_match=upsert, dry_run=True
    )
    run = await import_both(api, parents, children, subitems=BY_EMAIL, on_match=upsert)
    assert run["counts"] == counts(submitted=3, created=2, updated=1), run
    assert dry["counts"] == run["counts"], dry


async def test_a_name_key_on_a_multi_level_file_is_the_name_at_the_rows_level(
    api: Api, server: ServerProcess
) -> None:
    # the key of `parent_key_column_id: "name"` was read from the level-1 cell only, so a
    # row one level down (its name in `name.l2`) was never a parent: PARENT_NOT_FOUND
    parents = "name.l1,name.l2\nRoadmap 2027,\n,Phase 1\n"
    children = "name,parent\nKick-off,Roadmap 2027\nDesign,Phase 1\n"
    status = await import_both(api, parents, children, board_id="200", subitems=BY_NAME)
    assert status["counts"] == counts(submitted=4, created=4), status
    tree = await item_tree(server, 200)
    assert ("Kick-off", 2, "Roadmap 2027") in tree and ("Design", 3, "Phase 1") in tree, tree


async def test_a_matched_row_that_keeps_its_items_name_is_the_parent_of_that_name(
    api: Api, server: ServerProcess
) -> None:
    # a matched row may leave its name empty to keep the item's; its key was that empty
    # cell, so children naming the item were PARENT_NOT_FOUND
    by_id = {"behaviour": "UPSERT", "match_column_id": "id"}
    status = await import_both(
        api, "name,id,numeric\n,1000,5\n", "name,parent\nFollow up,Existing lead\n",
        subitems=BY_NAME, on_match=by_id,
    )  # fmt: skip
    assert status["counts"] == counts(submitted=2, created=1, updated=1), status
    assert ("Follow up", 2, "Existing lead") in await item_tree(server)


async def test_a_child_of_a_parent_row_that_became_no_item_says_which_row(api: Api) -> None:
    # the parent row is in the file but was invalid (or, in an update, matched nothing): the
    # child said "0 parent rows have the key", as if the key were mistyped
    parents = "name,status\nGood,Done\nBroken,Lost\n"
    children = "name,parent\nUnder broken,Broken\nUnder nothing,Nobody\n"
    status = await import_both(api, parents, children, subitems=BY_NAME)
    assert status["counts"] == counts(submitted=4, invalid=3, created=1), status
    report = await children_report(api, status["job_id"])
    assert report == {
        "Under broken": "invalid row: PARENT_NOT_FOUND: The parent row with the key 'Broken' "
        "(line 3) became no item: it is invalid",
        "Under nothing": "invalid row: PARENT_NOT_FOUND: 0 parent rows have the key 'Nobody'",
    }
    update = {"behaviour": "UPDATE", "match_column_id": "name"}
    status = await import_both(
        api, "name\nStranger\n", "name,parent\nChild,Stranger\n", subitems=BY_NAME, on_match=update
    )
    assert await children_report(api, status["job_id"]) == {
        "Child": "invalid row: PARENT_NOT_FOUND: The parent row with the key 'Stranger' "
        "(line 2) became no item: it is skipped"
    }


async def test_both_files_together_use_at_most_five_board_relation_columns(api: Api) -> None:
    # "Use up to 5 Board Relation columns in a single import": the job is one import, its
    # child file included (a column in both files counts once)
    relations = [
        {"id": f"rel{n}", "type": "board_relation", "settings": {"board_ids": [100]}}
        for n in range(1, 7)
    ]
    await api.load_fixture({
        "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
        "boards": [{"id": 411, "account_id": 1, "name": "Links",
                    "members": [{"user_id": 10, "role": "OWNER"}],
                    "groups": [{"id": "topics", "title": "Topics"}], "columns": relations}],
    })  # fmt: skip

    def file(header: list[str], name: str) -> str:
        return ",".join(header) + "\n" + ",".join([name, *["1000"] * (len(header) - 1)]) + "\n"

    main = file(["name", "rel1", "rel2", "rel3"], "Deal")
    for child_columns, total in ((["rel4", "rel5", "rel6"], 6), (["rel1", "rel2", "rel3",
                                 "rel4", "rel5", "rel6"], 6)):  # fmt: skip
        child = file(["name", "parent", *child_columns], "Task").replace("1000,", "Deal,", 1)
        status = await import_both(api, main, child, board_id="411", subitems=BY_NAME)
        assert status["status"] == "REJECTED", status
        assert status["failure_reason"] == "INVALID_UPLOAD", status
        assert f"{total} board relation columns" in status["failure_message"], status
    data = await api.gql("query { boards(ids: [411]) { items(limit: 10) { id } } }")
    assert data["boards"][0]["items"] == []
    child = file(["name", "parent", "rel3", "rel4", "rel5"], "Task").replace("1000,", "Deal,", 1)
    status = await import_both(api, main, child, board_id="411", subitems=BY_NAME)
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == 2, status


async def test_a_subitems_file_over_150_mb_is_rejected_as_too_large(api: Api) -> None:
    # the limit is per file: the child file is no exception (a few rows of long text, so
    # that no other limit applies)
    row = b"Task,Deal," + b"x" * (16 * 1024 * 1024) + b"\n"
    children = b"name,parent,text\n" + row * 10
    assert len(children) > 150 * 1024 * 1024
    status = await import_both(api, "name\nDeal\n", children, subitems=BY_NAME)
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "FILE_TOO_LARGE", status
    assert "subitems file" in status["failure_message"], status
    assert f"{len(children):,}" in status["failure_message"], status
    data = await api.gql('query { items_by_column_values(board_id: "100", column_id: "name",'
                         ' column_value: "Deal") { id } }')  # fmt: skip
    assert data["items_by_column_values"] == []


async def test_a_child_row_names_its_parent_by_item_id(api: Api, server: ServerProcess) -> None:
    # Zoho's Parent_Id found by id: the key is the id of an item already on the job's board
    other_board = await create_item(api, "200", "On the roadmap")
    archived = await create_item(api, "100", "Archived deal")
    deleted = await create_item(api, "100", "Deleted deal")
    await api.gql(f"mutation {{ archive_item(item_id: {archived}) {{ id }} }}")
    await api.gql(f"mutation {{ delete_item(item_id: {deleted}) {{ id }} }}")
    children = csv_text(
        ["name", "deal_id", "text"],
        [
            ["Call lead", "1000", "by id"],
            ["Under the roadmap", other_board, ""],
            ["Under another account", "3000", ""],
            ["Under archived", archived, ""],
            ["Under deleted", deleted, ""],
            ["Under nothing", "999999999", ""],
            ["Under a name", "Existing lead", ""],
        ],
    )
    by_id = {"parent_key_column_id": "id", "parent_key_header": "deal_id"}
    status = await import_both(api, "name\nNew deal\n", children, subitems=by_id)
    assert status["counts"] == counts(submitted=8, invalid=6, created=2), status
    assert ("Call lead", 2, "Existing lead") in await item_tree(server)
    report = await children_report(api, status["job_id"])
    assert set(report) == {
        "Under the roadmap", "Under another account", "Under archived", "Under deleted",
        "Under nothing", "Under a name",
    }  # fmt: skip
    for name, errors in report.items():
        key = next(row[1] for row in csv.reader(io.StringIO(children)) if row[0] == name)
        assert errors == (
            f"invalid row: PARENT_NOT_FOUND: No active item of this board has the id {key!r}"
        ), name


async def test_a_parent_by_item_id_takes_no_key_column_in_the_main_file(api: Api) -> None:
    # with on_match the child is matched by name under the named parent: run twice, no twin
    by_id = {"parent_key_column_id": "id", "parent_key_header": "deal_id"}
    upsert = {"behaviour": "UPSERT", "match_column_id": "name"}
    children = "name,deal_id,text\nCall lead,1000,first\n"
    first = await import_both(api, "name\nOther\n", children, subitems=by_id, on_match=upsert)
    assert first["counts"] == counts(submitted=2, created=2), first
    children = "name,deal_id,text\nCall lead,1000,second\n"
    again = await import_both(api, "name\nOther\n", children, subitems=by_id, on_match=upsert)
    assert again["counts"] == counts(submitted=2, updated=2), again
    data = await api.gql(
        '{ boards(ids: [100]) { items { name parent_item { id } column_values(ids: ["text"]) '
        "{ text } } } }"
    )
    under = [i for i in data["boards"][0]["items"] if i["parent_item"] == {"id": "1000"}]
    assert under == [
        {"name": "Call lead", "parent_item": {"id": "1000"}, "column_values": [{"text": "second"}]}
    ]
