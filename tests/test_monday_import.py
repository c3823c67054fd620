"""monday's bulk item import end to end: the documented three steps over HTTP and S3."""

from __future__ import annotations

import csv
import io
import time

import httpx
import pytest

from tests.blue import put_file, start_import, wait_for_report
from tests.conftest import Api, ServerProcess
from tests.importing import (
    STATUS_QUERY,
    board_items,
    database_rows,
    download_report,
    job_status,
    run_import,
    start_job,
    upload,
    wait_for_job,
)

DOC_EXAMPLE = """name,text,status,date,email,numeric,dropdown
Task 1,Description text,Working on it,2025-12-31,task1@example.com,100,"Option A, Option B"
Task 2,Another task,Done,2026-01-15,task2@example.com,200,Option C
Task 3,Third task,Stuck,2026-02-28,task3@example.com,300,
Task 4,,,,,,
"""


async def test_documented_example_csv_creates_every_row(api: Api) -> None:
    status = await run_import(api, DOC_EXAMPLE)
    assert status["status"] == "COMPLETED"
    assert status["counts"] == {
        "submitted": 4, "invalid": 0, "skipped": 0, "created": 4, "updated": 0, "failed": 0
    }  # fmt: skip
    assert status["progress_percentage"] == 100
    assert status["fully_imported"] is True
    assert status["report_created"] is False and status["report_url"] is None
    items = await board_items(api)
    assert items["Task 1"]["values"] == {
        "text": "Description text", "status": "Working on it", "date": "2025-12-31",
        "email": "task1@example.com", "numeric": "100", "dropdown": "Option A, Option B",
    }  # fmt: skip
    assert items["Task 4"]["values"] == {}
    assert items["Task 1"]["group"] == "topics"


async def test_job_waits_in_upload_pending_until_the_file_arrives(api: Api) -> None:
    job = await start_job(api)
    status = await wait_for_job_once(api, job["job_id"])
    assert status == "UPLOAD_PENDING"
    await upload(job["upload_url"], DOC_EXAMPLE)
    final = await wait_for_job(api, job["job_id"])
    assert final["status"] == "COMPLETED"


async def wait_for_job_once(api: Api, job_id: str) -> str:
    data = await api.gql(
        "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { status } } }",
        {"id": job_id},
    )
    return str(data["fetch_job_status"]["status"])


async def test_invalid_cells_are_counted_and_reported_and_the_rest_imported(api: Api) -> None:
    body = "name,status,numeric\nGood,Done,1\nBad label,done,2\nBad number,Done,lots\n"
    status = await run_import(api, body)
    assert status["status"] == "COMPLETED"
    assert status["counts"]["created"] == 1
    assert status["counts"]["invalid"] == 2
    assert status["fully_imported"] is False
    report = await download_report(status)
    assert [r["name"] for r in report] == ["Bad label", "Bad number"]
    assert report[0]["__line"] == "3" and report[0]["__status"] == "invalid"
    assert "status: INVALID_STATUS_LABEL" in report[0]["__errors"]
    assert "numeric: INVALID_NUMBER" in report[1]["__errors"]
    assert set(await board_items(api)) == {"Existing lead", "Good"}


async def test_fixed_report_can_be_uploaded_again_as_it_is(api: Api) -> None:
    status = await run_import(api, "name,status\nFix me,done\n")
    report = await download_report(status)
    report[0]["status"] = "Done"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(report[0]))
    writer.writeheader()
    writer.writerows(report)
    again = await run_import(api, out.getvalue())
    assert again["counts"]["created"] == 1, again
    assert (await board_items(api))["Fix me"]["values"]["status"] == "Done"


async def test_the_report_of_an_uploaded_report_has_its_columns_once(api: Api) -> None:
    # the report columns of the file give way to the new job's: a report can go round and
    # round until its rows are fixed (duplicated, they rejected its next upload)
    status = await run_import(api, "name,status\nGood,Done\nStill bad,done\n")
    first = await download_report(status)
    assert [row["__line"] for row in first] == ["3"]
    async with httpx.AsyncClient() as client:
        body = (await client.get(status["report_url"])).text
    for _ in range(2):
        status = await run_import(api, body)
        assert status["status"] == "COMPLETED" and status["counts"]["invalid"] == 1, status
        async with httpx.AsyncClient() as client:
            body = (await client.get(status["report_url"])).text
        lines = list(csv.reader(io.StringIO(body)))
        assert lines[0] == ["name", "status", "__line", "__status", "__item_id", "__errors"]
        assert lines[1][:5] == ["Still bad", "done", "2", "invalid", ""], lines


async def test_upsert_updates_matched_item_keeps_empty_cells_and_clears_null(api: Api) -> None:
    body = (
        "name,email,status,text,numeric\n"
        "Renamed lead,old@acme.example.com,,<NULL>,5\n"
        "New lead,new@example.com,Stuck,hello,\n"
    )
    await api.gql(
        'mutation { ingest_items(board_id: "100", group_id: "closed") { job_id } }'
    )  # a job that never gets a file does not disturb the next one
    status = await run_import(
        api, body, group_id="closed", on_match={"behaviour": "UPSERT", "match_column_id": "email"}
    )
    assert status["counts"] == {
        "submitted": 2, "invalid": 0, "skipped": 0, "created": 1, "updated": 1, "failed": 0
    }  # fmt: skip
    items = await board_items(api)
    assert "Existing lead" not in items
    updated = items["Renamed lead"]
    assert updated["id"] == "1000"
    assert updated["group"] == "topics"  # matched items are not moved
    assert updated["values"]["status"] == "Done"  # empty cell keeps the stored value
    assert updated["values"]["numeric"] == "5"
    assert items["New lead"]["group"] == "closed"


async def test_null_marker_clears_a_stored_value(api: Api) -> None:
    body = "name,email,status\nExisting lead,old@acme.example.com,<NULL>\n"
    status = await run_import(
        api, body, on_match={"behaviour": "UPSERT", "match_column_id": "email"}
    )
    assert status["counts"]["updated"] == 1
    assert "status" not in (await board_items(api))["Existing lead"]["values"]


async def test_null_marker_in_the_name_keeps_a_matched_items_name(api: Api) -> None:
    # a name cannot be cleared: the marker is an empty name cell, never the name "<NULL>"
    body = "name,email,text\n<NULL>,old@acme.example.com,kept name\n<NULL>,new@example.com,x\n"
    status = await run_import(
        api, body, on_match={"behaviour": "UPSERT", "match_column_id": "email"}
    )
    assert status["counts"]["updated"] == 1 and status["counts"]["invalid"] == 1, status
    items = await board_items(api)
    assert set(items) == {"Existing lead"}
    assert items["Existing lead"]["values"]["text"] == "kept name"
    report = await download_report(status)
    assert [(row["__line"], row["__errors"]) for row in report] == [
        ("3", "name: MISSING_NAME: The item name is empty")
    ]


async def test_null_marker_outside_upsert_is_an_empty_name(api: Api) -> None:
    status = await run_import(api, "name,text\n<NULL>,x\n <NULL> ,y\nReal,z\n")
    assert status["counts"]["created"] == 1 and status["counts"]["invalid"] == 2, status
    assert set(await board_items(api)) == {"Existing lead", "Real"}


async def test_a_name_longer_than_255_characters_makes_its_row_invalid(api: Api) -> None:
    # monday's names are 1 to 255 characters, as its v2 mutations keep them; surrounding
    # spaces do not count, as the name is trimmed
    longest, too_long = "n" * 255, "n" * 256
    body = f"name,text\n{longest},a\n  {longest}  ,b\n{too_long},c\n"
    status = await run_import(api, body)
    assert status["counts"]["created"] == 2 and status["counts"]["invalid"] == 1, status
    report = await download_report(status)
    assert [(row["__line"], row["__errors"]) for row in report] == [
        ("4", "name: NAME_TOO_LONG: The item name is longer than 255 characters")
    ]
    # nor does a matched row rename its item past the limit
    status = await run_import(
        api,
        f"name,email\n{too_long},old@acme.example.com\n",
        on_match={"behaviour": "UPSERT", "match_column_id": "email"},
    )
    assert status["counts"]["invalid"] == 1 and status["counts"]["updated"] == 0, status
    assert "Existing lead" in await board_items(api)


async def test_skip_counts_matched_rows_as_skipped(api: Api) -> None:
    body = "name,email,status\nWhatever,old@acme.example.com,Stuck\nFresh,fresh@example.com,Stuck\n"
    status = await run_import(api, body, on_match={"behaviour": "SKIP", "match_column_id": "email"})
    assert status["counts"]["skipped"] == 1 and status["counts"]["created"] == 1
    items = await board_items(api)
    assert items["Existing lead"]["values"]["status"] == "Done"
    report = await download_report(status)
    assert [(r["name"], r["__status"], r["__item_id"]) for r in report] == [
        ("Whatever", "skipped", "1000")
    ]


async def test_key_repeated_in_the_file_updates_the_item_the_first_row_created(api: Api) -> None:
    body = "name,email,numeric\nFirst,dup@example.com,1\nSecond,dup@example.com,2\n"
    status = await run_import(
        api, body, on_match={"behaviour": "UPSERT", "match_column_id": "email"}
    )
    assert status["counts"]["created"] == 1 and status["counts"]["updated"] == 1
    items = await board_items(api)
    assert "First" not in items
    assert items["Second"]["values"]["numeric"] == "2"


async def test_value_matching_several_items_makes_the_row_invalid(api: Api) -> None:
    first = "name,email\nA,same@example.com\nB,same@example.com\n"
    await run_import(api, first)
    body = "name,email,numeric\nC,same@example.com,9\n"
    status = await run_import(
        api, body, on_match={"behaviour": "UPSERT", "match_column_id": "email"}
    )
    assert status["counts"]["invalid"] == 1
    report = await download_report(status)
    assert "MULTIPLE_MATCHES" in report[0]["__errors"]


async def test_backfill_creates_items_without_activity_or_budget(api: Api) -> None:
    status = await run_import(api, DOC_EXAMPLE, mutation="backfill_items")
    assert status["counts"]["created"] == 4
    assert status["status"] == "COMPLETED"


async def test_fetch_job_status_of_unknown_or_foreign_job_is_not_found(api: Api) -> None:
    job = await start_job(api)
    for job_id, token in (
        (job["job_id"], "tok-gus"),
        ("7c9e6679-7425-40de-944b-e07fc1f90ae7", "tok-ada"),
        ("nope", "tok-ada"),
        ("", "tok-ada"),
        ("\x00", "tok-ada"),  # PostgreSQL refuses a NUL in any text: never sent there
        (job["job_id"] + "\x00", "tok-ada"),
        (job["job_id"].upper(), "tok-ada"),  # job ids are answered in one spelling only
        ("{" + job["job_id"] + "}", "tok-ada"),
    ):
        response = await api.post(
            "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { status } } }",
            {"id": job_id},
            token=token,
        )
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
        assert body["data"] is None


async def test_fetch_job_status_can_be_called_again_after_the_job_ended(api: Api) -> None:
    status = await run_import(api, "name,status\nGood,Done\nBad,Lost\n")
    for _ in range(3):
        again = await job_status(api, status["job_id"])
        assert again == {k: v for k, v in status.items() if k not in ("job_id", "report_url")} | {
            "report_url": again["report_url"]
        }
        assert again["report_url"]  # a fresh link each time
        assert [row["name"] for row in await download_report(again)] == ["Bad"]


START_WITH = """mutation($v: {type}) {{
    ingest_items(board_id: {board}, group_id: "topics"{arg}) {{ job_id }} }}"""


@pytest.mark.parametrize(
    ("arg", "type", "value", "named"),
    [
        ("", "ID!", "100\x00", None),  # the board id itself
        (", character_encoding: $v", "String", "utf-8\x00", None),
        (", callback: {url: $v}", "String!", "http://example.com/\x00", "callback.url"),
        (
            ', field_mappings: [{column_id: "name", index: 0, default_value: $v}]',
            "String",
            "Anonymous\x00",
            "field_mappings[0].default_value",
        ),
        (", field_mappings: [{column_id: $v, index: 0}]", "ID!", "name\x00", None),
        (
            ', subitems: {parent_key_column_id: "name", parent_key_header: $v}',
            "String!",
            "deal\x00",
            "subitems.parent_key_header",
        ),
    ],
    ids=["board_id", "encoding", "callback", "default value", "mapped column", "subitems key"],
)
async def test_a_nul_character_in_an_argument_is_a_user_error(
    api: Api, arg: str, type: str, value: str, named: str | None
) -> None:
    # never an INTERNAL_SERVER_ERROR: PostgreSQL refuses a NUL in text and in JSON
    board = '"100"' if arg else "$v"
    response = await api.post(START_WITH.format(type=type, board=board, arg=arg), {"v": value})
    body = response.json()
    assert body.get("data") is None, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == ("BAD_USER_INPUT" if arg else "NOT_FOUND"), error
    if named:
        assert error["message"].startswith(named), error


async def test_thousands_of_field_mappings_are_answered_at_once(api: Api) -> None:
    # the repeated column was found with list.count per mapping: 60,000 mappings held the
    # server's event loop (every request) for about 40 seconds; so many values in variables
    # are now refused before they are read (test_graphql_limits), 3,000 mappings are not
    mappings = [{"column_id": f"c{n}", "index": n} for n in range(3_000)]
    mappings.append({"column_id": "c1", "index": 0})
    started = time.monotonic()
    response = await api.post(
        """mutation($m: [ItemsJobFieldMapping!]) {
            ingest_items(board_id: "100", group_id: "topics", field_mappings: $m) { job_id } }""",
        {"m": mappings},
    )
    assert time.monotonic() - started < 15
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    # refused by the 200-mapping limit (Zoho's HEADER_LIMIT_EXCEEDED) before anything else
    assert "exceeded the maximum limit of 200" in error["message"], error


async def test_a_blue_import_is_not_a_monday_job(api: Api, server: ServerProcess) -> None:
    # fetch_job_status answered with a Blue import's status; a cancelled one's, CANCELLED,
    # is none of monday's states: INTERNAL_SERVER_ERROR
    key = await put_file(api, "leads", "Title\n" + "".join(f"r{i}\n" for i in range(5000)))
    assert (await start_import(api, "leads", key, ["Title"])).json()["data"]["importTodos"]
    assert await api.gql('mutation { cancelTodoImport(projectId: "leads") }')
    await wait_for_report(api, "leads")
    rows = await database_rows(server, "SELECT id::text FROM import_jobs WHERE kind = 'blue'")
    response = await api.post(STATUS_QUERY, {"id": rows[0]["id"]})
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
