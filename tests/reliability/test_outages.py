"""The database going away for a few seconds during an import: the job ends in a retry (and
COMPLETED with every row exactly once) or a clean FAILED whose counts match the board, never
stuck PROCESSING (or IN_PROGRESS), and the server keeps serving."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws

from server.imports import runner
from tests.blue import (
    REPORT,
    next_event,
    put_file,
    run_sql,
    start_import,
    subscribe,
    wait_for_report,
    websocket,
)
from tests.conftest import ADMIN_TOKEN, Api, ServerProcess, start_server, stop_server
from tests.importing import (
    TERMINAL,
    database_rows,
    postgres_socket,
    start_job,
    upload,
    wait_for_job,
)
from tests.reliability.test_crash import all_names
from tests.reliability.test_frozen_copy import wait_in_copy

ROWS = 20_000
LEASE = "2"  # seconds: a job whose runner lost the database is taken over quickly
OUTAGE = 3.0  # seconds during which every connection of the server is cut
CUT_INTERVAL = 0.05  # seconds between two rounds of cuts
SETTLE_TIMEOUT = 180.0  # seconds the job gets to end after the outage
TERMINATE_OTHERS = """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()"""


@pytest.fixture(scope="module")
def lone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(
        tmp_path_factory.mktemp("outage-data"), extra_env={"JOB_LEASE_SECONDS": LEASE}
    )
    yield server
    stop_server(server)


@pytest.fixture
async def api(lone_server: ServerProcess) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=lone_server.url, timeout=30) as client:
        response = await client.post("/__admin/reset", headers={"X-Admin-Token": ADMIN_TOKEN})
        assert response.status_code == 200, response.text
        yield Api(client)


async def cut_database(server: ServerProcess, seconds: float) -> int:
    """Terminate every connection of the server to its database, again and again for
    `seconds`, as a database restart or a network partition would. Returns how many."""
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    cut = 0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            cut += int(await conn.fetchval(TERMINATE_OTHERS))
            await asyncio.sleep(CUT_INTERVAL)
    finally:
        await conn.close()
    return cut


async def patiently(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A query's data, asked again while the server is still reconnecting to its database."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        try:
            response = await api.post(query, variables)
            body = response.json()
            if response.status_code == 200 and not body.get("errors"):
                return dict(body["data"])
        except (httpx.HTTPError, ValueError):
            pass
        assert time.monotonic() < deadline, f"no answer to {query}"
        await asyncio.sleep(0.2)


STATUS = """query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus {
    status progress_percentage failure_message counts { submitted created failed invalid } } } }"""


async def monday_status(api: Api, job_id: str) -> dict[str, Any]:
    return dict((await patiently(api, STATUS, {"id": job_id}))["fetch_job_status"])


async def test_database_outage_during_a_monday_import_ends_completed_or_cleanly_failed(
    api: Api, lone_server: ServerProcess
) -> None:
    body = "name,numeric\n" + "".join(f"row {i},{i}\n" for i in range(ROWS))
    job = await start_job(api, mutation="backfill_items")
    assert (await upload(job["upload_url"], body)).status_code == 200
    low = random.randint(5, 40)
    while (status := await monday_status(api, job["job_id"]))["progress_percentage"] < low:
        assert status["status"] not in TERMINAL, status
        await asyncio.sleep(0.05)
    assert await cut_database(lone_server, OUTAGE) > 0
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while (status := await monday_status(api, job["job_id"]))["status"] not in TERMINAL:
        assert time.monotonic() < deadline, f"job stuck after the outage: {status}"
        await asyncio.sleep(0.2)
    names = [n for n in await all_names(api) if n.startswith("row ")]
    assert len(names) == len(set(names)), "a row was imported twice"
    if status["status"] == "COMPLETED":
        assert status["counts"]["created"] == ROWS, status
        assert len(names) == ROWS
    else:
        assert status["status"] == "FAILED", status
        assert status["failure_message"], status
        assert status["counts"]["created"] == len(names), status
    assert (await api.client.get("/healthz")).status_code == 200


async def test_database_outage_during_a_blue_import_ends_complete_or_cleanly_failed(
    api: Api, lone_server: ServerProcess
) -> None:
    body = "Title\n" + "".join(f"rec {i}\n" for i in range(ROWS))
    key = await put_file(api, "leads", body)
    assert (await start_import(api, "leads", key, ["Title"])).json() == {
        "data": {"importTodos": True}
    }
    low = random.randint(5, 40) * ROWS // 100
    while True:
        report = (await patiently(api, REPORT, {"p": "leads"}))["todoImportReport"]
        if report and report["imported"] >= low:
            break
        assert report is None or report["status"] == "IN_PROGRESS", report
        await asyncio.sleep(0.05)
    assert await cut_database(lone_server, OUTAGE) > 0
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while (report := (await patiently(api, REPORT, {"p": "leads"}))["todoImportReport"])[
        "status"
    ] == "IN_PROGRESS":
        assert time.monotonic() < deadline, f"import stuck after the outage: {report}"
        await asyncio.sleep(0.2)
    names = [n for n in await all_names(api) if n.startswith("rec ")]
    assert len(names) == len(set(names)), "a record was imported twice"
    if report["status"] == "COMPLETE":
        assert report["imported"] == ROWS and len(names) == ROWS, report
    else:
        assert report["status"] == "ERROR", report
        assert report["error"], report
        assert report["imported"] == len(names), report
    assert (await api.client.get("/healthz")).status_code == 200


async def test_s3_refusing_the_read_is_retried_and_the_job_completes(api: Api) -> None:
    fault = {"operation": "upload", "error": "S3_READ_ERROR", "count": 1}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    job = await start_job(api)
    assert (await upload(job["upload_url"], "name\nA\nB\n")).status_code == 200
    status = await wait_for_job(api, job["job_id"])
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 2
    record = (await api.admin("GET", f"/__admin/jobs/{job['job_id']}")).json()
    assert record["attempt"] == 2  # the first claim could not read the file; the second finished


async def health(api: Api, wanted: int) -> dict[str, Any]:
    """/healthz's answer once its status is `wanted` (the pool notices a lost database at its
    next use)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while (response := await api.client.get("/healthz")).status_code != wanted:
        assert time.monotonic() < deadline, response.text
        await asyncio.sleep(0.2)
    return dict(response.json())


TERMINATE_SERVER = TERMINATE_OTHERS.replace("current_database()", "'postgres'")
TERMINATE_LISTENER = """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE application_name = 'importserver-listener'"""


@contextlib.asynccontextmanager
async def database_closed(
    server: ServerProcess, terminate: str = TERMINATE_SERVER
) -> AsyncIterator[None]:
    """Within the block the server's database takes no new connection, and those `terminate`
    selects are ended; afterwards it takes them again."""
    host, port = postgres_socket(server)
    # from another database: the server's own is the one closed
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="template1")
    try:
        await conn.execute("ALTER DATABASE postgres ALLOW_CONNECTIONS false")
        try:
            await conn.execute(terminate)
            yield
        finally:
            await conn.execute("ALTER DATABASE postgres ALLOW_CONNECTIONS true")
    finally:
        await conn.close()


async def test_healthz_says_unavailable_while_the_database_refuses_connections(
    api: Api, lone_server: ServerProcess
) -> None:
    async with database_closed(lone_server):
        assert await health(api, 503) == {"status": "unavailable"}
    assert await health(api, 200) == {"status": "ok"}


async def test_requests_while_the_database_refuses_connections_get_json_errors(
    api: Api, lone_server: ServerProcess
) -> None:
    # the GraphQL gate authenticates before anything runs, and an admin call writes: both
    # lose the database here, and must say so in their own shapes (they answered a plain-text
    # 500 "Internal Server Error", uvicorn logging an ASGI traceback)
    async with database_closed(lone_server):
        graphql = await api.post("{ me { id } }")
        admin = await api.admin("POST", "/__admin/faults", {"operation": "boards", "error": "SLOW"})
    await health(api, 200)
    assert graphql.status_code == 500, graphql.text
    error = graphql.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR", error
    assert (
        error["message"]
        == f"Internal server error (request id {error['extensions']['request_id']})"
    )
    assert admin.status_code == 500, admin.text
    assert admin.json()["code"] == "INTERNAL_SERVER_ERROR", admin.text
    assert "Exception in ASGI application" not in lone_server.log()


async def test_a_fixture_the_database_fails_to_load_is_a_500_not_an_invalid_fixture(
    api: Api, lone_server: ServerProcess
) -> None:
    # a deadlock (or a lost connection) while loading is the server's failure: the caller's
    # fixture is fine and may be sent again; it was a 400 "invalid fixture: deadlock detected"
    fixture = {
        "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
        "boards": [
            {"id": 990, "account_id": 1, "name": "Unlucky", "groups": [{"id": "g", "title": "G"}]}
        ],
    }
    await run_sql(
        lone_server,
        """CREATE FUNCTION test_deadlock() RETURNS trigger AS $$
        BEGIN
            IF NEW.name = 'Unlucky' THEN
                RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER test_deadlock BEFORE INSERT ON boards
            FOR EACH ROW EXECUTE FUNCTION test_deadlock();""",
    )
    try:
        refused = await api.admin("POST", "/__admin/fixture", fixture)
    finally:
        await run_sql(
            lone_server, "DROP TRIGGER test_deadlock ON boards; DROP FUNCTION test_deadlock();"
        )
    assert refused.status_code == 500, refused.text
    assert refused.json()["code"] == "INTERNAL_SERVER_ERROR", refused.text
    assert (await api.admin("POST", "/__admin/fixture", fixture)).status_code == 200


async def test_a_subscriber_gets_the_end_of_an_import_that_ended_while_events_were_cut_off(
    api: Api, lone_server: ServerProcess
) -> None:
    # the process's listening connection is lost and cannot come back while the import runs
    # and ends (its pool's connections, open already, still work): the NOTIFY of its end
    # reaches no one, so once the listener is back the subscriber must be given the latest
    # state; it waited for ever
    key = await put_file(api, "leads", "Title\nmissed 1\nmissed 2\n")
    await asyncio.gather(*(api.gql("{ me { id } }") for _ in range(8)))  # the pool filled
    async with websocket(lone_server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", "leads", "10")
        await asyncio.sleep(0.5)  # subscribed
        async with database_closed(lone_server, TERMINATE_LISTENER):
            started = await start_import(api, "leads", key, ["Title"])
            assert started.json() == {"data": {"importTodos": True}}, started.text
            report = await wait_for_report(api, "leads")
            assert report["status"] == "COMPLETE", report
        statuses = []
        while not statuses or statuses[-1] == "IN_PROGRESS":
            statuses.append((await next_event(ws))["status"])
    assert statuses[-1] == "COMPLETE", statuses


async def test_a_database_failure_before_any_resolver_is_an_internal_error_not_a_validation_one(
    api: Api, lone_server: ServerProcess
) -> None:
    # the complexity budget is charged before the resolvers run; the database failing there
    # was answered GRAPHQL_VALIDATION_FAILED with the driver's message
    await run_sql(
        lone_server,
        """CREATE FUNCTION test_refuse_charge() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'secret driver detail' USING ERRCODE = 'internal_error';
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER test_refuse_charge BEFORE INSERT OR UPDATE ON complexity_budgets
            FOR EACH ROW EXECUTE FUNCTION test_refuse_charge();""",
    )
    try:
        response = await api.post("{ me { id } }")
    finally:
        await run_sql(
            lone_server,
            "DROP TRIGGER test_refuse_charge ON complexity_budgets; "
            "DROP FUNCTION test_refuse_charge();",
        )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR", error
    assert "secret" not in response.text, response.text


async def test_a_fixture_load_a_deadlock_rolls_back_is_loaded_again(
    api: Api, lone_server: ServerProcess
) -> None:
    # a server starting (its start fixture loaded) while another process imports into a
    # fixture board can deadlock with the import's chunk; the load failed, and so the start
    await run_sql(
        lone_server,
        """CREATE SEQUENCE test_deadlocks;
        CREATE FUNCTION test_deadlock_once() RETURNS trigger AS $$
        BEGIN
            IF NEW.name = 'Once unlucky' AND nextval('test_deadlocks') = 1 THEN
                RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER test_deadlock_once BEFORE INSERT ON boards
            FOR EACH ROW EXECUTE FUNCTION test_deadlock_once();""",
    )
    fixture = {
        "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
        "boards": [
            {
                "id": 991,
                "account_id": 1,
                "name": "Once unlucky",
                "groups": [{"id": "g", "title": "G"}],
            }
        ],
    }
    try:
        loaded = await api.admin("POST", "/__admin/fixture", fixture)
    finally:
        await run_sql(
            lone_server,
            "DROP TRIGGER test_deadlock_once ON boards; DROP FUNCTION test_deadlock_once(); "
            "DROP SEQUENCE test_deadlocks;",
        )
    assert loaded.status_code == 200, loaded.text
    boards = await api.gql("{ boards(ids: [991]) { name } }")
    assert boards == {"boards": [{"name": "Once unlucky"}]}


async def test_a_websocket_authenticated_while_the_database_refuses_connections_ends_as_a_server_error(
    api: Api, lone_server: ServerProcess
) -> None:
    # the socket was dropped without a close code (uvicorn logging an ASGI traceback); it
    # ends with graphql-transport-ws's 4500, or graphql-ws's connection_error and 1011, not
    # as refused credentials
    answers: dict[str, tuple[list[dict[str, Any]], int]] = {}
    async with database_closed(lone_server):
        for protocol in ("graphql-transport-ws", "graphql-ws"):
            async with (
                httpx.AsyncClient(base_url=lone_server.url) as client,
                aconnect_ws("/graphql", client, subprotocols=[protocol]) as ws,
            ):
                init = {"type": "connection_init", "payload": {"Authorization": "tok-ada"}}
                await ws.send_json(init)
                messages: list[dict[str, Any]] = []
                with pytest.raises(WebSocketDisconnect) as closed:
                    while True:
                        messages.append(await ws.receive_json(timeout=10))
                answers[protocol] = (messages, closed.value.code)
    transport_messages, transport_code = answers["graphql-transport-ws"]
    assert (transport_messages, transport_code) == ([], 4500), answers
    legacy_messages, legacy_code = answers["graphql-ws"]
    assert legacy_code == 1011, answers
    assert legacy_messages[0]["type"] == "connection_error", answers
    assert legacy_messages[0]["payload"]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "Exception in ASGI application" not in lone_server.log()


CUT_COPY = """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE state = 'active' AND wait_event = 'ClientRead' AND query LIKE 'COPY %'"""


async def test_a_job_whose_database_connection_is_cut_logs_one_warning_line_not_a_traceback(
    api: Api, lone_server: ServerProcess
) -> None:
    logged = len(lone_server.log())
    fault = {"operation": "copy", "error": "SLOW", "delay_ms": 1000}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    job = await start_job(api, mutation="backfill_items")
    body = "name\n" + "".join(f"row {i}\n" for i in range(20))
    assert (await upload(job["upload_url"], body)).status_code == 200
    await wait_in_copy(lone_server)  # the job's connection, paused inside its first COPY
    assert (await database_rows(lone_server, CUT_COPY))[0][0] == 1
    status = await wait_for_job(api, job["job_id"])
    assert status["status"] == "COMPLETED", status  # resumed once its lease ran out
    log = lone_server.log()[logged:]
    warned = re.findall(
        rf"^\S+ \S+ WARNING \S+ job {job['job_id']} interrupted, will resume: .*$",
        log,
        re.MULTILINE,
    )
    assert len(warned) == 1, log
    assert re.search(r"will resume: \w+Error: \S", warned[0]), warned  # its class and message
    assert "Traceback" not in log, log
    # (asyncio may log a future of asyncpg's that held the cut session's error as "Future
    # exception was never retrieved": no line of the runner's, and no traceback)
    assert not re.search(r"^\S+ \S+ ERROR server\.", log, re.MULTILINE), log


async def test_a_runner_step_that_loses_the_database_logs_a_warning_and_a_bug_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wake = asyncio.Event()
    raised: list[Exception] = [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        RuntimeError("a bug"),
    ]

    async def step() -> None:
        wake.set()  # the next step at once, not after POLL_INTERVAL
        if not raised:
            raise asyncio.CancelledError
        raise raised.pop(0)

    with pytest.raises(asyncio.CancelledError):
        await runner._repeat(step, wake, "run")
    lost, bug = [r for r in caplog.records if r.name == runner.__name__]
    assert (lost.levelname, lost.exc_info) == ("WARNING", None)
    assert lost.getMessage() == (
        "runner run step failed, will retry: "
        "ConnectionDoesNotExistError: connection was closed in the middle of operation"
    )
    assert bug.levelname == "ERROR" and bug.exc_info is not None
