"""Blue's operations under hostile input and awkward workspace states, over HTTP and websockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

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
from tests.conftest import Api, ServerProcess, shared_s3, start_server, stop_server
from tests.test_blue_export import download, next_mail, outbox

IMPORT = "mutation($i: ImportTodosInput!) { importTodos(input: $i) }"
EXPORT = "mutation($i: ExportTodosInput!) { exportTodos(input: $i) }"
GROUPS = """query($b: [ID!]) { boards(ids: $b) { groups { id title archived
    items { name } } } }"""
LONE_SURROGATE = "\ud800"  # valid in a JSON \\u escape, but no Unicode text


async def post_raw(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """POST a query whose variables httpx's own JSON encoding refuses (lone surrogates)."""
    body = json.dumps({"query": query, "variables": variables}).encode()  # \\ud800 escaped
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": "tok-ada", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def code_of(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    return str(body["errors"][0]["extensions"]["code"])


async def lists(api: Api, board: str = "100") -> dict[str, list[str]]:
    groups = (await api.gql(GROUPS, {"b": [board]}))["boards"][0]["groups"]
    return {g["title"]: [i["name"] for i in g["items"]] for g in groups}


async def test_headers_holding_a_nul_or_a_lone_surrogate_are_bad_user_input(api: Api) -> None:
    key = await put_file(api, "leads", "a,b\n")
    for bad in ("Ti\x00tle", "x" + LONE_SURROGATE):
        variables = {"i": {"projectId": "leads", "s3Key": key, "headers": ["Title", bad]}}
        body = await post_raw(api, IMPORT, variables)
        assert code_of(body) == "BAD_USER_INPUT", body
        assert "headers[1]" in body["errors"][0]["message"]


async def test_a_project_id_with_a_lone_surrogate_is_project_not_found(
    api: Api, server: ServerProcess
) -> None:
    project = "leads" + LONE_SURROGATE
    for query, variables in [
        ("mutation($p: String!) { cancelTodoImport(projectId: $p) }", {"p": project}),
        ("query($p: String!) { todoImportReport(projectId: $p) { status } }", {"p": project}),
        (
            "mutation($p: String!) { exportCSVTemplate(input: {projectId: $p}) }",
            {"p": project},
        ),
        (IMPORT, {"i": {"projectId": project, "s3Key": "uploads/acme/x", "headers": ["Title"]}}),
    ]:
        assert code_of(await post_raw(api, query, variables)) == "PROJECT_NOT_FOUND"
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", project, "10")
        message = await next_event(ws)
        assert message["payload"][0]["extensions"]["code"] == "PROJECT_NOT_FOUND", message


async def test_an_export_filter_text_postgresql_cannot_hold_is_refused_before_the_export(
    api: Api,
) -> None:
    for field, bad in [
        ("listIds", "topics\x00"),
        ("listTitles", "Topics" + LONE_SURROGATE),
        ("tagNames", "\x00"),
    ]:
        variables = {"i": {"projectId": "leads", "filter": {field: ["ok", bad]}}}
        body = await post_raw(api, EXPORT, variables)
        assert code_of(body) == "BAD_USER_INPUT", body
        assert body["errors"][0]["extensions"]["error_data"] == {"field": field}
    # nothing started, so the user's export window is still free
    seen = len(await outbox(api))
    assert (await api.gql(EXPORT, {"i": {"projectId": "leads"}}))["exportTodos"] is True
    await next_mail(api, seen)


async def test_subscribing_to_an_unknown_workspace_is_project_not_found_whatever_the_user(
    api: Api, server: ServerProcess
) -> None:
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "no-such-workspace", "11")
        message = await next_event(ws)
        assert message["payload"][0]["extensions"]["code"] == "PROJECT_NOT_FOUND", message


async def test_records_without_a_list_go_to_the_first_open_list_by_position(api: Api) -> None:
    # a new group goes on top of the board: first by position, last in the table
    created = await api.gql('mutation { create_group(board_id: 100, group_name: "Inbox") { id } }')
    assert created["create_group"]["id"]
    report = await import_file(api, "leads", "First\nSecond\n", ["Title"])
    assert report["imported"] == 2, report
    assert (await lists(api))["Inbox"] == ["First", "Second"]


async def test_a_list_named_like_a_deleted_one_is_created_again_and_shows_its_records(
    api: Api,
) -> None:
    await import_file(api, "leads", "one,Follow-ups\n", ["Title", "List"])
    groups = (await api.gql(GROUPS, {"b": ["100"]}))["boards"][0]["groups"]
    (follow_ups,) = [g["id"] for g in groups if g["title"] == "Follow-ups"]
    await api.gql(
        "mutation($g: String!) { delete_group(board_id: 100, group_id: $g) { id } }",
        {"g": follow_ups},
    )
    report = await import_file(api, "leads", "two,Follow-ups\n", ["Title", "List"])
    assert report["imported"] == 1, report
    # the record is in a new, visible list, not in the deleted one that had the same id
    assert (await lists(api))["Follow-ups"] == ["two"]


async def test_an_archived_list_takes_no_records(api: Api) -> None:
    await api.gql('mutation { archive_group(board_id: 100, group_id: "closed") { id } }')
    body = "kept,\nrefused,closed\n"
    for extra in ({"dryRun": True}, {}):
        key = await put_file(api, "leads", body)
        response = await start_import(api, "leads", key, ["Title", "List"], **extra)
        assert response.json() == {"data": {"importTodos": True}}, response.text
        report = await wait_for_report(api, "leads")
        assert (report["imported"], report["failed"]) == (1, 1), report
        (error,) = report["errors"]
        assert (error["line"], error["column"], error["code"]) == (2, "List", "ARCHIVED_LIST")
    found = await lists(api)
    assert found["Closed"] == [] and "refused" not in found["Topics"], found


async def test_a_value_starting_with_a_quote_before_a_formula_imports_back_unchanged(
    api: Api,
) -> None:
    name = "'=not a formula"
    await api.gql(
        "mutation($n: String!) { create_item(board_id: 100, item_name: $n) { id } }",
        {"n": name},
    )
    seen = len(await outbox(api))
    assert (await api.gql(EXPORT, {"i": {"projectId": "leads"}}))["exportTodos"] is True
    mail = await next_mail(api, seen)
    rows = await download(mail["links"][0])
    titles = [row[0] for row in rows[1:]]
    assert "''=not a formula" in titles, titles  # one more quote, still text in a spreadsheet
    async with httpx.AsyncClient() as client:
        exported = (await client.get(mail["links"][0])).text
    report = await import_file(api, "roadmap", exported, rows[0])
    assert report["status"] == "COMPLETE", report
    items = (await api.gql("{ boards(ids: [200]) { items(limit: 100) { name } } }"))["boards"][0]
    assert name in [item["name"] for item in items["items"]]


async def first_event_of_a_new_import(api: Api, server_url: str) -> dict[str, Any]:
    """Subscribe as Ada on roadmap, start a small import; the first event the socket gets."""
    key = await put_file(api, "roadmap", "Title\nfresh\n")
    async with websocket(server_url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "roadmap", "10")
        await asyncio.sleep(0.3)
        response = await start_import(api, "roadmap", key, ["Title"])
        assert response.json() == {"data": {"importTodos": True}}, response.text
        event = await next_event(ws)
    await wait_for_report(api, "roadmap")
    return event


async def test_the_state_of_an_export_that_stopped_long_ago_is_not_replayed(
    api: Api, server: ServerProcess
) -> None:
    # what a server process killed mid-export leaves behind: a state no export will end
    payload = {
        "type": "EXPORT", "userId": "10", "username": "Ada", "projectId": "roadmap",
        "projectName": "Roadmap", "status": "IN_PROGRESS", "progress": 41.7,
    }  # fmt: skip
    literal = json.dumps(payload).replace("'", "''")
    await run_sql(
        server,
        "INSERT INTO progress_events (board_id, user_id, type, payload, updated_at, seq) "
        f"VALUES (200, 10, 'EXPORT', '{literal}', now() - interval '1 hour', "
        "nextval('progress_event_seq'))",
    )
    event = await first_event_of_a_new_import(api, server.url)
    assert (event["type"], event["status"], event["progress"]) == ("IMPORT", "IN_PROGRESS", 0.0)


async def test_an_export_stopped_with_its_server_ends_with_an_error_event_and_is_not_replayed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("stopped-export")
    with shared_s3("stopped-export") as env:
        exporter, other = (
            start_server(data_dir, extra_env=env),
            start_server(data_dir, extra_env=env),
        )
        try:
            async with httpx.AsyncClient(base_url=exporter.url, timeout=60) as client:
                api = Api(client)
                rows = "".join(f"r{i},{'d' * 200}\n" for i in range(60_000))
                report = await import_file(
                    api, "roadmap", "Title,Description\n" + rows, ["Title", "Description"],
                    useRustImport=True,
                )  # fmt: skip
                assert report["imported"] == 60_000, report
                # followed on the other process, which outlives the one that exports
                async with websocket(other.url, "graphql-transport-ws") as ws:
                    await subscribe(ws, "graphql-transport-ws", "roadmap", "10")
                    await asyncio.sleep(0.3)
                    assert (await api.gql(EXPORT, {"i": {"projectId": "roadmap"}}))["exportTodos"]
                    event = await next_event(ws)
                    while event["progress"] == 0:  # until the export is under way
                        event = await next_event(ws)
                    stop_server(exporter)
                    while event["status"] == "IN_PROGRESS":
                        reached, event = event["progress"], await next_event(ws)
            assert (event["type"], event["status"]) == ("EXPORT", "ERROR"), event
            assert "shut down" in event["error"], event
            assert event["progress"] >= reached, event  # progress never goes back
            async with httpx.AsyncClient(base_url=other.url, timeout=60) as client:
                event = await first_event_of_a_new_import(Api(client), other.url)
            assert (event["type"], event["status"]) == ("IMPORT", "IN_PROGRESS"), event
        finally:
            stop_server(exporter)
            stop_server(other)


async def test_an_export_running_when_the_data_is_reset_sends_no_mail_and_no_events_after(
    api: Api, server: ServerProcess
) -> None:
    # one file part (below 16 MiB): the upload itself does not fail after the reset
    rows = "".join(f"r{i}\n" for i in range(60_000))
    report = await import_file(api, "roadmap", "Title\n" + rows, ["Title"], useRustImport=True)
    assert report["imported"] == 60_000, report
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "roadmap", "10")
        await asyncio.sleep(0.3)
        assert (await api.gql(EXPORT, {"i": {"projectId": "roadmap"}}))["exportTodos"] is True
        while (await next_event(ws))["progress"] == 0:
            pass  # until the export is under way
        response = await api.admin("POST", "/__admin/reset")
        assert response.status_code == 200, response.text
        await asyncio.sleep(5)  # an export of 60,000 records ends well within this
    # the reset emptied the outbox: nothing of the export from before lands in it
    assert await outbox(api) == []
    # nor does a state of that export wait for the next subscriber
    event = await first_event_of_a_new_import(api, server.url)
    assert (event["type"], event["status"]) == ("IMPORT", "IN_PROGRESS"), event


async def test_more_exports_at_once_than_the_pool_has_connections_all_end_and_the_api_answers(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    exporters = 12  # more than server.db.POOL_MAX
    users = [
        {"id": 500 + n, "account_id": 1, "name": f"User {n}", "email": f"u{n}@acme.example.com",
         "token": f"tok-u{n}"}
        for n in range(exporters)
    ]  # fmt: skip
    members = [{"user_id": user["id"], "role": "VIEW_ONLY"} for user in users]
    server = start_server(tmp_path_factory.mktemp("many-exports"))
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            api = Api(client)
            await api.load_fixture({
                "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
                "users": users,
                "boards": [{"id": 980, "account_id": 1, "name": "Big", "slug": "big",
                            "members": [{"user_id": 10, "role": "OWNER"}, *members],
                            "groups": [{"id": "topics", "title": "Topics"}]}],
            })  # fmt: skip
            rows = "".join(f"r{i}\n" for i in range(20_000))
            report = await import_file(api, "big", "Title\n" + rows, ["Title"], useRustImport=True)
            assert report["imported"] == 20_000, report
            answers = await asyncio.gather(
                *(
                    api.gql(EXPORT, {"i": {"projectId": "big"}}, token=user["token"])
                    for user in users
                )
            )
            assert answers == [{"exportTodos": True}] * exporters
            # every export ends, and the server answers meanwhile
            deadline = asyncio.get_running_loop().time() + 60
            while len(mails := await outbox(api)) < exporters:
                assert asyncio.get_running_loop().time() < deadline, len(mails)
                report = await api.gql(
                    '{ todoImportReport(projectId: "big") { status } }', token="tok-ada"
                )
                assert report == {"todoImportReport": {"status": "COMPLETE"}}
                await asyncio.sleep(0.2)
            assert sorted(m["to"] for m in mails) == sorted(u["email"] for u in users)
    finally:
        stop_server(server)
