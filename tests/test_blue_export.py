"""Blue-style export through HTTP: exportCSVTemplate, exportTodos/exportRecords and the outbox."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from typing import Any

import httpx
import psutil

from tests.blue import import_file, next_event, run_sql, subscribe, websocket
from tests.conftest import Api, ServerProcess

WORKSPACE = "cexport0000000000000000001"
RECOGNISED = [
    "Title", "List", "Done", "Start Date", "Due Date", "Description", "Assignees",
    "Created At", "Updated At", "Created By", "Color", "Project", "Tags",
]  # fmt: skip
CUSTOM = ["Notes", "Stage", "Score", "Budget", "Currency Types", "Owner"]
HEADER = RECOGNISED + CUSTOM
TEMPLATE = "mutation($i: ExportCSVTemplateInput!) { exportCSVTemplate(input: $i) }"
EXPORT = "mutation($i: ExportTodosInput!) { exportTodos(input: $i) }"
EXPORT_RECORDS = "mutation($i: ExportTodosInput!) { exportRecords(input: $i) }"
MAIL_TIMEOUT = 60.0  # seconds a test waits for the export's e-mail

PIPELINE: dict[str, Any] = {
    "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
    "boards": [
        {
            "id": 700, "account_id": 1, "name": "Pipeline", "uid": WORKSPACE, "slug": "pipeline",
            "members": [{"user_id": 10, "role": "OWNER"}, {"user_id": 11, "role": "MEMBER"},
                        {"user_id": 12, "role": "VIEW_ONLY"}],
            "groups": [{"id": "backlog", "title": "Backlog"}, {"id": "doing", "title": "Doing"}],
            "columns": [
                {"id": "notes", "title": "Notes", "type": "text"},
                {"id": "stage", "title": "Stage", "type": "status",
                 "settings": {"labels": ["Open", "Won", "Lost"]}},
                # the importer reads a "Tags" header as Blue's tags: this field cannot be in the file
                {"id": "labels", "title": "Tags", "type": "dropdown",
                 "settings": {"labels": ["A", "B"]}},
                {"id": "score", "title": "Score", "type": "numbers"},
                {"id": "budget", "title": "Budget", "type": "currency",
                 "settings": {"currency": "EUR"}},
                {"id": "owner", "title": "Owner", "type": "people"},
            ],
            "items": [
                {"id": 7001, "name": "Alpha", "group_id": "backlog", "creator_id": 11,
                 "values": {"notes": "=SUM(1,2)", "score": "-1", "budget": "12.5",
                            "owner": "bob@acme.example.com", "labels": "A"}},
                {"id": 7002, "name": "Beta", "group_id": "doing",
                 "values": {"notes": "+1", "stage": "Won"}},
                {"id": 7003, "name": "@x", "group_id": "backlog", "values": {"notes": "@x"}},
            ],
        },
    ],
}  # fmt: skip


async def pipeline(api: Api) -> None:
    await api.load_fixture(PIPELINE)


async def download(url: str) -> list[list[str]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


async def outbox(api: Api) -> list[dict[str, Any]]:
    response = await api.admin("GET", "/__admin/outbox")
    assert response.status_code == 200, response.text
    return list(response.json())


async def next_mail(api: Api, seen: int) -> dict[str, Any]:
    """Wait for the outbox to hold more than `seen` messages; return the newest."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while True:
        messages = await outbox(api)
        if len(messages) > seen:
            return messages[-1]
        assert time.monotonic() < deadline, "no export e-mail arrived"
        await asyncio.sleep(0.1)


async def export(
    api: Api,
    filter_: dict[str, Any] | None = None,
    *,
    token: str = "tok-ada",
    mutation: str = EXPORT,
) -> list[dict[str, str]]:
    """Run one export and return its CSV rows as dicts, from the link in its e-mail."""
    seen = len(await outbox(api))
    data = await api.gql(mutation, {"i": {"projectId": WORKSPACE, "filter": filter_}}, token=token)
    assert list(data.values()) == [True]
    mail = await next_mail(api, seen)
    rows = await download(mail["links"][0])
    assert rows[0] == HEADER
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def next_window(api: Api) -> None:
    """Move the server clock past the 50-second export window."""
    response = await api.admin("POST", "/__admin/clock", {"advance_seconds": 51})
    assert response.status_code == 200, response.text


def error_of(body: dict[str, Any]) -> tuple[str, str]:
    error = body["errors"][0]
    return error["extensions"]["code"], error["message"]


async def test_template_lists_recognised_columns_then_custom_fields_with_currency_types(
    api: Api,
) -> None:
    await pipeline(api)
    url = (await api.gql(TEMPLATE, {"i": {"projectId": WORKSPACE}}))["exportCSVTemplate"]
    assert "X-Amz-Expires=86400" in url
    assert re.search(r"/templates/acme/pipeline/[0-9a-f-]{36}/workspace-template-", url), url
    assert await download(url) == [HEADER, [""] * len(HEADER)]


async def test_any_access_level_gets_the_template_by_uid_slug_or_numeric_id(api: Api) -> None:
    await pipeline(api)
    for project in (WORKSPACE, "pipeline", "700"):
        data = await api.gql(TEMPLATE, {"i": {"projectId": project}}, token="tok-vera")
        assert (await download(data["exportCSVTemplate"]))[0] == HEADER


async def test_unknown_or_foreign_project_is_project_not_found(api: Api) -> None:
    await pipeline(api)
    for query in (TEMPLATE, EXPORT):
        for project, token in (("no-such-workspace", "tok-ada"), (WORKSPACE, "tok-gus")):
            response = await api.post(query, {"i": {"projectId": project}}, token=token)
            assert response.status_code == 200
            body = response.json()
            assert body["data"] is None
            assert error_of(body) == ("PROJECT_NOT_FOUND", "Project was not found.")


async def test_export_mails_a_link_to_every_record_with_formulas_neutralised(api: Api) -> None:
    await pipeline(api)
    rows = await export(api)
    assert [r["Title"] for r in rows] == ["Alpha", "'@x", "Beta"]
    alpha, at_x, beta = rows
    assert alpha == {
        **alpha,
        "List": "Backlog", "Done": "false", "Project": "Pipeline", "Tags": "", "Assignees": "",
        "Created By": "bob@acme.example.com", "Notes": "'=SUM(1,2)", "Score": "'-1",
        "Budget": "12.5", "Currency Types": "EUR", "Owner": "bob@acme.example.com",
    }  # fmt: skip
    assert alpha["Created At"] and alpha["Updated At"]
    assert (at_x["Notes"], at_x["Budget"], at_x["Currency Types"]) == ("'@x", "", "")
    assert (beta["List"], beta["Notes"], beta["Stage"]) == ("Doing", "'+1", "Won")
    [mail] = await outbox(api)
    assert mail["to"] == "ada@acme.example.com"
    assert "Pipeline" in mail["subject"]
    assert mail["links"][0] in mail["body"] and "3 records" in mail["body"]
    assert "X-Amz-Expires=86400" in mail["links"][0]
    assert "/exports/acme/pipeline/" in mail["links"][0]
    assert mail["sent_at"]


async def test_export_events_carry_the_file_only_when_complete_and_no_error_key(
    api: Api, server: ServerProcess
) -> None:
    await pipeline(api)
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", WORKSPACE, "10")
        await export(api)
        events = [await next_event(ws)]
        while events[-1].get("status") not in ("COMPLETE", "ERROR"):
            events.append(await next_event(ws))
    base = {"type", "userId", "username", "projectId", "projectName", "status", "progress"}
    assert [set(e) for e in events[:-1]] == [base] * (len(events) - 1), events
    done = events[-1]
    assert set(done) == base | {"fileUrl", "totalCount"}, done
    assert done["type"] == "EXPORT" and done["totalCount"] == 3 and "/exports/" in done["fileUrl"]


async def test_view_only_member_may_export_with_the_newer_name_export_records(api: Api) -> None:
    await pipeline(api)
    rows = await export(api, token="tok-vera", mutation=EXPORT_RECORDS)
    assert len(rows) == 3
    assert (await outbox(api))[-1]["to"] == "vera@acme.example.com"


async def test_second_export_within_50_seconds_is_rate_limited_per_user(api: Api) -> None:
    await pipeline(api)
    assert len(await export(api)) == 3
    response = await api.post(EXPORT, {"i": {"projectId": WORKSPACE}})
    body = response.json()
    assert error_of(body)[0] == "RATE_LIMITED", body
    assert 0 < body["errors"][0]["extensions"]["retryAfterMs"] <= 50_000
    assert len(await export(api, token="tok-bob")) == 3  # another user has a window of its own
    await next_window(api)
    assert len(await export(api)) == 3


async def test_filter_by_list_id_or_title(api: Api) -> None:
    await pipeline(api)
    assert [r["Title"] for r in await export(api, {"listIds": ["doing"]})] == ["Beta"]
    await next_window(api)
    titles = [r["Title"] for r in await export(api, {"listTitles": ["backlog"]})]
    assert titles == ["Alpha", "'@x"]


BLUE_HEADERS = ["Title", "List", "Done", "Due Date", "Assignees", "Tags", "Notes"]
BLUE_ROWS = [
    BLUE_HEADERS,
    ["Gamma", "Doing", "true", "2025-03-01", "bob@acme.example.com", "urgent, docs", "g"],
    ["Delta", "Doing", "false", "2025-03-31T18:00:00Z", "", "docs", "d"],
    ["Epsilon", "Backlog", "true", "", "Ada Admin", "", "e"],
]


async def imported_pipeline(api: Api) -> None:
    """The pipeline plus three records with Blue's own fields, imported with importTodos."""
    await pipeline(api)
    out = io.StringIO()
    csv.writer(out).writerows(BLUE_ROWS)
    report = await import_file(api, WORKSPACE, out.getvalue(), BLUE_HEADERS)
    assert report["status"] == "COMPLETE", report
    assert report["imported"] == 3, report


async def test_export_writes_blue_fields_and_filters_by_tag_done_assignee_and_due_date(
    api: Api,
) -> None:
    await imported_pipeline(api)
    rows = {r["Title"]: r for r in await export(api)}
    assert set(rows) == {"Alpha", "'@x", "Beta", "Gamma", "Delta", "Epsilon"}
    gamma = rows["Gamma"]
    assert (gamma["List"], gamma["Done"], gamma["Due Date"]) == ("Doing", "true", "2025-03-01")
    assert (gamma["Assignees"], gamma["Tags"]) == ("bob@acme.example.com", "docs, urgent")
    assert rows["Delta"]["Due Date"] == "2025-03-31T18:00:00Z"
    assert rows["Epsilon"]["Assignees"] == "ada@acme.example.com"

    async def titles(filter_: dict[str, Any]) -> set[str]:
        await next_window(api)
        return {r["Title"] for r in await export(api, filter_)}

    assert await titles({"tagNames": ["DOCS"]}) == {"Gamma", "Delta"}
    assert await titles({"tagNames": ["urgent"], "listTitles": ["doing"]}) == {"Gamma"}
    assert await titles({"done": True}) == {"Gamma", "Epsilon"}
    assert await titles({"done": False, "listIds": ["doing"]}) == {"Beta", "Delta"}
    assert await titles({"assigneeIds": ["10"]}) == {"Epsilon"}
    # too large to be any user's id: a user that does not exist, assigned to no record
    assert await titles({"assigneeIds": ["99999999999999999999"]}) == set()
    assert await titles({"dueDateFrom": "2025-03-01", "dueDateTo": "2025-03-31"}) == {
        "Gamma",
        "Delta",
    }
    assert await titles({"dueDateTo": "2025-03-30"}) == {"Gamma"}
    assert await titles({"dueDateFrom": "2025-03-31T19:00:00Z"}) == set()


async def test_a_bad_filter_is_refused_before_the_export_starts(api: Api) -> None:
    await pipeline(api)
    arabic_indic_10 = "\u0661\u0660"  # str.isdigit takes it, and int() reads it as 10
    for bad in (
        {"dueDateFrom": "soon"},
        {"assigneeIds": ["ada"]},
        {"assigneeIds": [arabic_indic_10]},
    ):
        response = await api.post(EXPORT, {"i": {"projectId": WORKSPACE, "filter": bad}})
        assert error_of(response.json())[0] == "BAD_USER_INPUT", response.text
    # a refused call does not use up the user's export window
    assert len(await export(api)) == 3


EMPTY_COPY = {
    "accounts": PIPELINE["accounts"],  # the one key a fixture must have (CONTRACT §4)
    "boards": [
        {
            **PIPELINE["boards"][0],
            "id": 701, "uid": "cexport0000000000000000002", "slug": "pipeline-copy",
            "name": "Pipeline copy", "groups": [{"id": "topics", "title": "Topics"}], "items": [],
        }
    ]
}  # fmt: skip
COPY_FIELDS = """query($b: [ID!]) { boards(ids: $b) { items(limit: 100) {
    name done due_date description color created_at group { title }
    assignees { id } tags { name } column_values(ids: ["notes", "stage", "score", "budget", "owner"]) { id text } } } }"""


async def test_an_exported_workspace_imports_into_an_empty_one_as_the_same_records(
    api: Api,
) -> None:
    await imported_pipeline(api)
    await api.load_fixture(EMPTY_COPY)
    seen = len(await outbox(api))
    assert (await api.gql(EXPORT, {"i": {"projectId": WORKSPACE}}))["exportTodos"] is True
    mail = await next_mail(api, seen)
    async with httpx.AsyncClient() as client:
        exported = (await client.get(mail["links"][0])).text
    report = await import_file(api, "pipeline-copy", exported, HEADER)
    assert report["status"] == "COMPLETE", report
    assert report["imported"] == 6, report

    async def records(board: str) -> dict[str, Any]:
        items = (await api.gql(COPY_FIELDS, {"b": [board]}))["boards"][0]["items"]
        for item in items:
            item["created_at"] = item["created_at"][:19]  # the file keeps whole seconds
            item["tags"] = sorted(tag["name"] for tag in item["tags"])
            item["assignees"] = sorted(user["id"] for user in item["assignees"])
        return {item["name"]: item for item in items}

    # the dropdown titled "Tags" cannot be in the file, so COPY_FIELDS leaves it out
    assert await records("701") == await records("700")


TIMESTAMPS = ["Title", "Due Date", "Start Date", "Created At", "Updated At"]


async def test_a_date_postgresql_would_store_as_infinity_is_refused_and_exports_still_work(
    api: Api,
) -> None:
    await pipeline(api)
    # asyncpg sends 0001-01-01T00:00:00Z as -infinity, which no export could render
    rows = [
        TIMESTAMPS,
        ["Due", "0001-01-01", "", "", ""],
        ["Start", "", "Jan 1, 0001", "", ""],
        ["Created", "", "", "0001-01-01T01:00:00+01:00", ""],
        ["Updated", "", "", "", "0001-01-01 00:00"],
        ["Earliest", "0001-01-01T00:00:01Z", "", "", "9999-12-31T23:59:59Z"],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    for rust in (False, True):
        report = await import_file(api, WORKSPACE, out.getvalue(), TIMESTAMPS, useRustImport=rust)
        assert (report["imported"], report["failed"]) == (1, 4), report
        errors = {(e["line"], e["column"], e["code"]) for e in report["errors"]}
        assert errors == {
            (2, "Due Date", "INVALID_DATE"),
            (3, "Start Date", "INVALID_DATE"),
            (4, "Created At", "INVALID_DATE"),
            (5, "Updated At", "INVALID_DATE"),
        }
        assert all("out of range" in e["message"] for e in report["errors"]), report
    earliest = [r for r in await export(api) if r["Title"] == "Earliest"]
    assert [(r["Due Date"], r["Updated At"]) for r in earliest] == [
        ("0001-01-01T00:00:01Z", "9999-12-31T23:59:59Z")
    ] * 2


async def test_an_export_writes_a_stored_infinity_as_an_empty_cell(
    api: Api, server: ServerProcess
) -> None:
    await pipeline(api)
    await run_sql(
        server,
        "UPDATE items SET due_date = '-infinity', start_date = 'infinity', "
        "created_at = '-infinity', updated_at = 'infinity' WHERE id = 7001",
    )
    alpha = next(r for r in await export(api) if r["Title"] == "Alpha")
    cells = [alpha[c] for c in ("Due Date", "Start Date", "Created At", "Updated At")]
    assert cells == ["", "", "", ""]
    # exported as no due date, it matches no due-date range either
    await next_window(api)
    ranged = await export(api, {"dueDateTo": "9999-12-31"})
    assert "Alpha" not in [r["Title"] for r in ranged], ranged


FORMULA_TITLES = {
    "accounts": PIPELINE["accounts"],
    "boards": [
        {
            "id": 702, "account_id": 1, "name": "Costs", "slug": "costs",
            "members": [{"user_id": 10, "role": "OWNER"}],
            "groups": [{"id": "topics", "title": "Topics"}],
            "columns": [{"id": "cost", "title": "-Cost", "type": "numbers"},
                        {"id": "total", "title": "=Total", "type": "text"}],
        }
    ],
}  # fmt: skip


async def test_a_template_whose_field_titles_look_like_formulas_imports_with_its_own_header(
    api: Api,
) -> None:
    await api.load_fixture(FORMULA_TITLES)
    url = (await api.gql(TEMPLATE, {"i": {"projectId": "costs"}}))["exportCSVTemplate"]
    header, empty = await download(url)
    assert header[-2:] == ["'-Cost", "'=Total"]  # neutralised for spreadsheets
    # the documented workflow: fill the template, pass its header row as `headers`
    out = io.StringIO()
    csv.writer(out).writerows([header, ["Filled", *empty[1:-2], "5", "x"]])
    report = await import_file(api, "costs", out.getvalue(), header)
    assert (report["total"], report["imported"], report["failed"]) == (1, 1, 0), report
    assert report["unknownHeaders"] == [], report
    items = (
        await api.gql(
            '{ boards(ids: [702]) { items { name column_values(ids: ["cost", "total"]) { text } } } }'
        )
    )["boards"][0]["items"]
    assert items == [{"name": "Filled", "column_values": [{"text": "5"}, {"text": "x"}]}]


async def test_export_progress_has_two_decimals_as_an_import_gives_it(
    api: Api, server: ServerProcess
) -> None:
    await pipeline(api)
    body = "Title\n" + "".join(f"r{i}\n" for i in range(1197))  # 1,200 with the fixture's 3
    report = await import_file(api, WORKSPACE, body, ["Title"], useRustImport=True)
    assert report["imported"] == 1197, report
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", WORKSPACE, "10")
        await export(api)
        events = [await next_event(ws)]
        while events[-1]["status"] == "IN_PROGRESS":
            events.append(await next_event(ws))
    progress = [(e["status"], e["progress"]) for e in events]
    assert progress == [
        ("IN_PROGRESS", 0.0), ("IN_PROGRESS", 41.67), ("IN_PROGRESS", 83.33),
        ("IN_PROGRESS", 99.0), ("COMPLETE", 100.0),
    ]  # fmt: skip


async def test_an_export_of_long_descriptions_is_read_a_few_records_at_a_time(
    api: Api, server: ServerProcess
) -> None:
    # batches were 500 records whatever their size: 2,000 records of 200 KB descriptions
    # grew the server by 406 MiB (100 MB fetched, decoded and made one CSV text on the event
    # loop, /healthz held 2 s); now 57 MiB. Here 30 records of 2 MB, one batch before.
    await pipeline(api)
    await run_sql(
        server,
        "UPDATE items SET description = repeat('lorem ipsum ', 170000) || id WHERE board_id = 700;"
        "INSERT INTO items (board_id, group_id, name, position, description)"
        " SELECT 700, 'doing', 'Long ' || g, 100 + g, repeat('dolor sit amet ', 136000)"
        " FROM generate_series(1, 27) g",
    )
    process = psutil.Process(server.process.pid)
    seen = len(await outbox(api))
    before = peak = process.memory_info().rss
    assert (await api.gql(EXPORT, {"i": {"projectId": WORKSPACE}}))["exportTodos"] is True
    mail = asyncio.create_task(next_mail(api, seen))
    while not mail.done():
        peak = max(peak, process.memory_info().rss)
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient() as client:
        lines = (await client.get(mail.result()["links"][0])).content.splitlines()
    assert len(lines) == 31 and all(len(line) > 2_000_000 for line in lines[1:])
    assert peak - before < 110 << 20, (peak - before) >> 20  # 183 MiB before, 56 now
