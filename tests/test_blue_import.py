"""Blue-style import through HTTP and websockets: importTodos, cancel, progress events."""

from __future__ import annotations

import asyncio

from tests.blue import (
    import_file,
    next_event,
    put_file,
    run_sql,
    start_import,
    subscribe,
    wait_for_report,
    websocket,
)
from tests.conftest import Api, ServerProcess
from tests.importing import refusing_name, start_job, upload

WORKSPACE = "clm4n8qwx000008l0g4oxdqn7"  # the demo board "Leads" (slug "leads")
ALL_HEADERS = [
    "Title", "List", "Done", "Start Date", "Due Date", "Description", "Assignees",
    "Created At", "Updated At", "Created By", "Color", "Project", "Tags",
    "Notes", "Status", "Score", "Budget",
]  # fmt: skip
ITEMS = """query { boards(ids: [100]) { groups { id title } items(limit: 100) {
    id name done start_date due_date description color created_at updated_at creator_id
    group { title } assignees { id } tags { name }
    column_values(ids: ["text", "status", "numeric", "budget"]) { id text } } } }"""


def csv_text(rows: list[list[str]]) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


async def records(api: Api) -> dict[str, dict[str, object]]:
    board = (await api.gql(ITEMS))["boards"][0]
    return {item["name"]: item for item in board["items"]}


async def test_import_with_every_recognised_header_and_custom_fields(api: Api) -> None:
    body = csv_text(
        [
            ALL_HEADERS,
            ["Write spec", "Backlog", "true", "2025-01-02", "2025-02-03", "The spec", "Bob Member, ada@acme.example.com",
             "2024-12-01T10:00:00Z", "2024-12-02", "bob@acme.example.com", "#ff0000", "Leads", "urgent, docs",
             "some notes", "Done", "42", "99.5"],
            ["Second", "", "false", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
        ]
    )  # fmt: skip
    report = await import_file(api, WORKSPACE, body, ALL_HEADERS)
    assert report["status"] == "COMPLETE", report
    assert (report["total"], report["imported"], report["failed"]) == (2, 2, 0)
    assert report["unknownHeaders"] == []
    items = await records(api)
    spec = items["Write spec"]
    assert spec["done"] is True
    assert spec["start_date"].startswith("2025-01-02") and spec["due_date"].startswith("2025-02-03")
    assert spec["description"] == "The spec" and spec["color"] == "#ff0000"
    assert spec["created_at"].startswith("2024-12-01T10:00:00")
    assert spec["creator_id"] == "11"
    assert spec["group"] == {"title": "Backlog"}
    assert sorted(a["id"] for a in spec["assignees"]) == ["10", "11"]
    assert sorted(t["name"] for t in spec["tags"]) == ["docs", "urgent"]
    values = {v["id"]: v["text"] for v in spec["column_values"]}
    assert values == {"text": "some notes", "status": "Done", "numeric": "42", "budget": "99.5"}
    assert items["Second"]["done"] is False
    assert items["Second"]["group"] == {"title": "Topics"}  # no list: the first list


async def test_lists_and_tags_are_created_once(api: Api) -> None:
    headers = ["Title", "List", "Tags"]
    body = csv_text(
        [headers, ["A", "New list", "t1"], ["B", "new list", "T1, t2"], ["C", "Topics", ""]]
    )
    report = await import_file(api, "leads", body, headers)
    assert report["imported"] == 3
    board = (await api.gql(ITEMS))["boards"][0]
    titles = [g["title"] for g in board["groups"]]
    assert titles.count("New list") == 1 and "new list" not in titles
    tags = {i["name"]: sorted(t["name"] for t in i["tags"]) for i in board["items"]}
    assert tags["B"] == ["t1", "t2"]


async def test_headers_argument_maps_columns_and_first_row_is_data_when_it_differs(
    api: Api,
) -> None:
    body = csv_text([["Row one", "Done"], ["Row two", "Stuck"]])
    report = await import_file(api, "leads", body, ["Title", "Status"])
    assert report["imported"] == 2
    items = await records(api)
    assert {v["text"] for v in items["Row one"]["column_values"] if v["id"] == "status"} == {"Done"}


async def test_unknown_header_is_ignored_and_bad_cells_are_reported_per_row(api: Api) -> None:
    headers = ["Title", "Mystery", "Status", "Assignees"]
    body = csv_text(
        [
            headers,
            ["ok", "x", "Done", ""],
            ["bad status", "", "Nope", ""],
            ["bad person", "", "", "Nobody"],
        ]
    )
    report = await import_file(api, "leads", body, headers)
    assert report["status"] == "COMPLETE"
    assert report["unknownHeaders"] == ["Mystery"]
    assert (report["imported"], report["failed"]) == (1, 2)
    codes = {(e["line"], e["column"], e["code"]) for e in report["errors"]}
    assert codes == {(3, "Status", "INVALID_STATUS_LABEL"), (4, "Assignees", "UNKNOWN_ASSIGNEE")}
    assert set(await records(api)) == {"Existing lead", "ok"}


async def test_unknown_or_foreign_project_is_project_not_found(api: Api) -> None:
    key = await put_file(api, "leads", "Title\nx\n")
    for project, token in (("nope", "tok-ada"), ("leads", "tok-gus")):
        response = await start_import(api, project, key, ["Title"], token=token)
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "PROJECT_NOT_FOUND"
        assert error["message"] == "Project was not found."


async def test_unknown_project_is_project_not_found_even_with_a_bad_s3_key(api: Api) -> None:
    for project, token in (("nope", "tok-ada"), ("leads", "tok-gus")):
        response = await start_import(api, project, "../x", ["Title"], token=token)
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "PROJECT_NOT_FOUND", error


async def test_viewer_cannot_import(api: Api) -> None:
    key = await put_file(api, "leads", "Title\nx\n")
    response = await start_import(api, "leads", key, ["Title"], token="tok-vera")
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_bad_s3_keys_are_bad_user_input(api: Api) -> None:
    for key in ("../etc/passwd", "/abs", "uploads/../x", "a b", ""):
        response = await start_import(api, "leads", key, ["Title"])
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", key
    response = await start_import(api, "leads", "uploads/missing.csv", ["Title"])
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_more_than_2500_records_needs_the_enterprise_plan(api: Api) -> None:
    await api.load_fixture({"accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "pro"}]})
    body = "Title\n" + "".join(f"r{i}\n" for i in range(2501))
    key = await put_file(api, "leads", body)
    response = await start_import(api, "leads", key, ["Title"])
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "TODO_IMPORT_LIMIT"
    assert error["message"] == "You are importing too many todos."
    small = await put_file(api, "leads", "Title\n" + "".join(f"r{i}\n" for i in range(2500)))
    assert (await start_import(api, "leads", small, ["Title"])).json() == {
        "data": {"importTodos": True}
    }
    await wait_for_report(api, "leads")
    await api.load_fixture(
        {"accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}]}
    )
    assert (await start_import(api, "leads", key, ["Title"])).json() == {
        "data": {"importTodos": True}
    }
    assert (await wait_for_report(api, "leads"))["imported"] == 2501


async def test_second_import_while_one_runs_is_refused_unless_rust(api: Api) -> None:
    big = "Title\n" + "".join(f"r{i}\n" for i in range(6000))
    key = await put_file(api, "leads", big)
    assert (await start_import(api, "leads", key, ["Title"])).json() == {
        "data": {"importTodos": True}
    }
    second = await start_import(api, "leads", key, ["Title"])
    error = second.json()["errors"][0]
    assert error["extensions"]["code"] == "IMPORT_ALREADY_IN_PROGRESS"
    assert error["message"] == "Import already in progress."
    rust = await start_import(api, "leads", key, ["Title"], useRustImport=True)
    assert rust.json() == {"data": {"importTodos": True}}
    report = await wait_for_report(api, "leads")
    assert report["imported"] == 6000  # the silent second call imported nothing more


async def test_cancel_by_admin_stops_after_the_current_chunk(
    api: Api, server: ServerProcess
) -> None:
    big = "Title\n" + "".join(f"r{i}\n" for i in range(20000))
    key = await put_file(api, "leads", big)
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "10")
        assert (await start_import(api, "leads", key, ["Title"])).json() == {
            "data": {"importTodos": True}
        }
        event = await next_event(ws)
        while event["status"] == "IN_PROGRESS" and event["progress"] == 0:
            event = await next_event(ws)
        cancelled = await api.gql('mutation { cancelTodoImport(projectId: "leads") }')
        assert cancelled == {"cancelTodoImport": True}
        while event["status"] == "IN_PROGRESS":
            event = await next_event(ws)
        assert event["status"] == "CANCELLED"
    report = await wait_for_report(api, "leads")
    assert report["status"] == "CANCELLED"
    board = (await api.gql("{ boards(ids: [100]) { items(limit: 500, page: 1) { id } } }"))[
        "boards"
    ][0]
    assert 0 < report["imported"] < 20000
    assert len(board["items"]) > 1  # committed chunks stay


async def test_member_cannot_cancel(api: Api) -> None:
    response = await api.post('mutation { cancelTodoImport(projectId: "leads") }', token="tok-bob")
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    alias = await api.gql('mutation { cancelRecordImport(projectId: "leads") }')
    assert alias == {"cancelRecordImport": False}  # an admin may: nothing runs to cancel


async def test_import_records_alias_works(api: Api) -> None:
    key = await put_file(api, "leads", "Title\nvia alias\n")
    response = await api.post(
        "mutation($i: ImportTodosInput!) { importRecords(input: $i) }",
        {"i": {"s3Key": key, "headers": ["Title"], "projectId": "leads"}},
    )
    assert response.json() == {"data": {"importRecords": True}}
    assert (await wait_for_report(api, "leads"))["imported"] == 1


async def progress_sequence(
    server: ServerProcess, api: Api, protocol: str
) -> list[dict[str, object]]:
    body = "Title\n" + "".join(f"r{i}\n" for i in range(1200))
    key = await put_file(api, "leads", body)
    events = []
    async with websocket(server.url, protocol) as ws:
        await subscribe(ws, protocol, "leads", "10")
        await asyncio.sleep(0.3)
        assert (await start_import(api, "leads", key, ["Title"])).json() == {
            "data": {"importTodos": True}
        }
        while True:
            event = await next_event(ws)
            events.append(event)
            if event["status"] != "IN_PROGRESS":
                break
    return events


async def test_progress_events_on_graphql_transport_ws(api: Api, server: ServerProcess) -> None:
    events = await progress_sequence(server, api, "graphql-transport-ws")
    check_sequence(events)


async def test_progress_events_on_legacy_graphql_ws(api: Api, server: ServerProcess) -> None:
    events = await progress_sequence(server, api, "graphql-ws")
    check_sequence(events)


def check_sequence(events: list[dict[str, object]]) -> None:
    assert events[0]["status"] == "IN_PROGRESS" and events[0]["progress"] == 0
    assert events[-1]["status"] == "COMPLETE" and events[-1]["progress"] == 100
    assert len(events) >= 4  # start, a chunk of 500, another, the end
    progress = [float(e["progress"]) for e in events]  # type: ignore[arg-type]
    assert progress == sorted(progress)
    assert set(events[0]) == {
        "type",
        "userId",
        "username",
        "projectId",
        "projectName",
        "status",
        "progress",
    }  # `error` only in an ERROR event
    assert (
        events[0]["type"] == "IMPORT"
        and events[0]["userId"] == "10"
        and events[0]["username"] == "Ada"
    )
    assert events[0]["projectId"] == "leads" and events[0]["projectName"] == "Leads"


async def test_a_new_subscriber_is_not_sent_the_end_of_an_earlier_import(
    api: Api, server: ServerProcess
) -> None:
    await import_file(api, "leads", "Title\nx\n", ["Title"])
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "10")
        await import_file(api, "leads", "Title\ny\n", ["Title"])
        # the first event is the new import's start, not the earlier one's COMPLETE
        event = await next_event(ws)
        assert (event["status"], event["progress"]) == ("IN_PROGRESS", 0.0), event


async def test_a_first_row_of_header_names_is_not_imported(api: Api) -> None:
    # the file's own header row has fewer columns than `headers`, in another order
    report = await import_file(api, "leads", "List,Title\nx,Backlog\n", ["Title", "List", "Done"])
    assert (report["total"], report["imported"]) == (1, 1), report


async def test_subscription_to_another_user_or_invisible_project_is_refused(
    api: Api, server: ServerProcess
) -> None:
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "11")
        message = await next_event(ws)
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "FORBIDDEN"
    async with websocket(server.url, "graphql-transport-ws", token="tok-gus") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "20")
        message = await next_event(ws)
        assert message["payload"][0]["extensions"]["code"] == "PROJECT_NOT_FOUND"


async def test_rust_import_gives_the_same_records_as_the_standard_one(api: Api) -> None:
    headers = ["Title", "List", "Done", "Due Date", "Assignees", "Tags", "Status", "Score"]
    body = csv_text(
        [headers]
        + [[f"rec {i}", f"list {i % 3}", str(i % 2 == 0).lower(), f"2025-03-{1 + i % 28:02d}",
            "Bob Member", f"t{i % 4}", "Done", str(i)] for i in range(1100)]
    )  # fmt: skip
    standard = await import_file(api, "leads", body, headers)
    first = await records(api)
    await api.admin("POST", "/__admin/reset")
    rust = await import_file(api, "leads", body, headers, useRustImport=True)
    second = await records(api)
    assert standard["imported"] == rust["imported"] == 1100

    def comparable(items: dict[str, dict[str, object]]) -> dict[str, object]:
        return {
            name: {k: v for k, v in item.items() if k not in ("id", "created_at", "updated_at")}
            for name, item in items.items()
        }

    assert comparable(first) == comparable(second)


async def test_dry_run_validates_and_reports_without_creating(api: Api) -> None:
    headers = ["Title", "List", "Status"]
    body = csv_text([headers, ["ok", "Brand new list", "Done"], ["bad", "", "Nope"]])
    report = await import_file(api, "leads", body, headers, dryRun=True)
    assert report["status"] == "COMPLETE"
    assert (report["imported"], report["failed"]) == (1, 1)
    board = (await api.gql(ITEMS))["boards"][0]
    assert [i["name"] for i in board["items"]] == ["Existing lead"]
    assert "Brand new list" not in [g["title"] for g in board["groups"]]


async def test_a_key_outside_the_callers_account_reads_as_missing(api: Api) -> None:
    key = await put_file(api, "leads", "Title\nx\n")
    foreign = key.replace("uploads/acme/", "uploads/globex/")
    response = await start_import(api, "leads", foreign, ["Title"])
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_chunk_the_database_refuses_is_rolled_back_whole_and_earlier_chunks_stay(
    api: Api, server: ServerProcess
) -> None:
    # chunks of 500: rows 1-500 commit, the refused row 700 rolls back rows 501-1000
    body = "Title\n" + "".join(f"rec {i}\n" for i in range(1, 1201))
    async with refusing_name(server, "rec 700"):
        report = await import_file(api, "leads", body, ["Title"])
    assert report["status"] == "ERROR", report
    assert "test trigger refuses item rec 700" in report["error"]
    assert report["progress"] == 41.67  # 500 of 1,200, as the events count it
    names = set(await all_item_names(api))
    assert {f"rec {i}" for i in range(1, 501)} <= names
    assert not any(f"rec {i}" in names for i in range(501, 1201))


async def all_item_names(api: Api) -> list[str]:
    names: list[str] = []
    for page in (1, 2, 3):
        data = await api.gql(
            "query($p: Int) { boards(ids: [100]) { items(limit: 500, page: $p) { name } } }",
            {"p": page},
        )
        names += [i["name"] for i in data["boards"][0]["items"]]
    return names


async def test_an_import_failing_before_its_first_chunk_reports_progress_as_a_float(
    api: Api, server: ServerProcess
) -> None:
    key = await put_file(api, "leads", b"Title\nnot \x00 text\n")
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "10")
        assert (await start_import(api, "leads", key, ["Title"])).json() == {
            "data": {"importTodos": True}
        }
        accepted = await next_event(ws)
        event = await next_event(ws)
    assert (accepted["status"], accepted["progress"]) == ("IN_PROGRESS", 0.0), accepted
    assert event["status"] == "ERROR" and "NUL byte" in str(event["error"]), event
    assert event["progress"] == 0 and isinstance(event["progress"], float), event


async def test_an_import_whose_user_lost_access_before_it_started_ends_with_an_error_event(
    api: Api, server: ServerProcess
) -> None:
    # the server runs one job at a time: a slowed monday-style import holds Bob's back
    fault = {"operation": "upload", "error": "SLOW", "delay_ms": 5000}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    held = await start_job(api)
    assert (await upload(held["upload_url"], "name\nheld\n")).status_code == 200
    await wait_until_claimed(api, held["job_id"])
    key = await put_file(api, "leads", "Title\nx\n", token="tok-bob")
    async with websocket(server.url, "graphql-transport-ws", token="tok-bob") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "11")
        response = await start_import(api, "leads", key, ["Title"], token="tok-bob")
        assert response.json() == {"data": {"importTodos": True}}
        # accepted, queued behind the slowed job
        accepted = await next_event(ws)
        assert (accepted["status"], accepted["progress"]) == ("IN_PROGRESS", 0.0), accepted
        await run_sql(server, "DELETE FROM board_members WHERE board_id = 100 AND user_id = 11")
        event = await next_event(ws)
    assert (event["status"], event["error"]) == ("ERROR", "The workspace or the user is gone")
    assert (event["userId"], event["projectId"]) == ("11", "leads")
    assert isinstance(event["progress"], float), event
    report = await wait_for_report(api, "leads")
    assert (report["status"], report["error"]) == ("ERROR", "The workspace or the user is gone")


async def wait_until_claimed(api: Api, job_id: str) -> None:
    while True:
        if (await api.admin("GET", f"/__admin/jobs/{job_id}")).json()["attempt"] >= 1:
            return
        await asyncio.sleep(0.1)
