"""Zoho-style bulk-write options on ingest_items/backfill_items, and what they leave unchanged."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.blue import websocket
from tests.conftest import Api, ServerProcess
from tests.importing import (
    board_items,
    download_report,
    run_import,
    start_job,
    upload,
    wait_for_job,
)

UPSERT_EMAIL = {"behaviour": "UPSERT", "match_column_id": "email"}


async def test_update_mode_updates_matches_and_skips_the_rest(api: Api) -> None:
    body = "name,email,numeric\nExisting lead,old@acme.example.com,7\nStranger,new@example.com,1\n"
    status = await run_import(
        api, body, on_match={"behaviour": "UPDATE", "match_column_id": "email"}
    )
    assert status["counts"] == {
        "submitted": 2,
        "invalid": 0,
        "skipped": 1,
        "created": 0,
        "updated": 1,
        "failed": 0,
    }
    items = await board_items(api)
    assert set(items) == {"Existing lead"}
    assert items["Existing lead"]["values"]["numeric"] == "7"


@pytest.mark.parametrize("behaviour", ["UPSERT", "UPDATE"])
async def test_a_matched_row_may_leave_the_name_empty_to_keep_it(api: Api, behaviour: str) -> None:
    # "an empty cell on a matched row is ignored": the name cell too; a row that would
    # create an item still needs one
    body = (
        "name,email,numeric\n"
        ",old@acme.example.com,7\n"  # matches Existing lead
        ",nobody@example.com,1\n"  # matches nothing
        "Fresh,fresh@example.com,2\n"
        ",fresh@example.com,3\n"  # matches the item the row above creates
    )
    on_match = {"behaviour": behaviour, "match_column_id": "email"}
    status = await run_import(api, body, on_match=on_match)
    items = await board_items(api)
    assert items["Existing lead"]["values"]["numeric"] == "7", items
    assert "" not in items
    if behaviour == "UPDATE":  # creates nothing: unmatched rows are skipped
        assert status["counts"] == {
            "submitted": 4, "invalid": 0, "skipped": 3, "created": 0, "updated": 1, "failed": 0,
        }  # fmt: skip
        return
    assert status["counts"] == {
        "submitted": 4, "invalid": 1, "skipped": 0, "created": 1, "updated": 2, "failed": 0,
    }  # fmt: skip
    assert items["Fresh"]["values"]["numeric"] == "3"
    report = await download_report(status)
    assert [(r["__line"], r["__errors"]) for r in report] == [
        ("3", "name: MISSING_NAME: The item name is empty")
    ]


async def test_find_by_id_matches_items_by_their_id(api: Api) -> None:
    # Zoho's find_by the record id: match_column_id "id", the ids in the file's `id` column
    existing = (await board_items(api))["Existing lead"]["id"]
    body = f"name,id,numeric\n,{existing},42\nStranger,999999999,1\nNo id,,2\n"
    update = {"behaviour": "UPDATE", "match_column_id": "id"}
    status = await run_import(api, body, on_match=update)
    assert status["counts"] == {
        "submitted": 3, "invalid": 0, "skipped": 2, "created": 0, "updated": 1, "failed": 0,
    }  # fmt: skip
    items = await board_items(api)
    assert set(items) == {"Existing lead"} and items["Existing lead"]["values"]["numeric"] == "42"
    # by field mapping, in an upsert: an unknown id creates an item (with an id of its own)
    mappings = [
        {"column_id": "id", "index": 0}, {"column_id": "name", "index": 1},
        {"column_id": "numeric", "index": 2},
    ]  # fmt: skip
    body = f"Record Id,Deal,Amount\n{existing},Renamed,7\n424242,Brand new,8\n"
    upsert = {"behaviour": "UPSERT", "match_column_id": "id"}
    status = await run_import(api, body, on_match=upsert, field_mappings=mappings)
    assert (status["counts"]["updated"], status["counts"]["created"]) == (1, 1), status
    items = await board_items(api)
    assert items["Renamed"]["id"] == existing and items["Renamed"]["values"]["numeric"] == "7"
    assert items["Brand new"]["id"] != "424242"


async def test_find_by_id_needs_an_id_column(api: Api) -> None:
    status = await run_import(
        api, "name,numeric\nA,1\n", on_match={"behaviour": "UPSERT", "match_column_id": "id"}
    )
    assert status["status"] == "REJECTED" and status["failure_reason"] == "INVALID_UPLOAD"
    assert "no 'id' column" in status["failure_message"], status


async def test_ignore_empty_false_clears_and_true_or_absent_keeps(api: Api) -> None:
    body = "name,email,status\nExisting lead,old@acme.example.com,\n"
    kept = await run_import(api, body, on_match=UPSERT_EMAIL, ignore_empty=True)
    assert kept["counts"]["updated"] == 1
    assert (await board_items(api))["Existing lead"]["values"]["status"] == "Done"
    await run_import(api, body, on_match=UPSERT_EMAIL)
    assert (await board_items(api))["Existing lead"]["values"]["status"] == "Done"
    cleared = await run_import(api, body, on_match=UPSERT_EMAIL, ignore_empty=False)
    assert cleared["counts"]["updated"] == 1
    assert "status" not in (await board_items(api))["Existing lead"]["values"]


async def test_field_mappings_map_by_index_and_fill_defaults(api: Api) -> None:
    body = "Full Name,Mail,Stage\nAda,ada@example.com,Stuck\nBob,bob@example.com,\n"
    mappings = [
        {"column_id": "name", "index": 0},
        {"column_id": "email", "index": 1},
        {"column_id": "status", "index": 2, "default_value": "Working on it"},
    ]
    status = await run_import(api, body, field_mappings=mappings)
    assert status["counts"]["created"] == 2, status
    items = await board_items(api)
    assert items["Ada"]["values"]["status"] == "Stuck"
    assert items["Bob"]["values"]["status"] == "Working on it"
    assert items["Bob"]["values"]["email"] == "bob@example.com"


async def test_a_mapping_without_an_index_sets_its_default_in_every_row(api: Api) -> None:
    # Zoho's layout examples map a field to a constant: default_value and no index
    body = "Full Name,Stage\nAda,Stuck\nBob,\n"
    mappings = [
        {"column_id": "name", "index": 0},
        {"column_id": "status", "index": 1},
        {"column_id": "text", "default_value": "from the CRM"},
    ]
    status = await run_import(api, body, field_mappings=mappings)
    assert status["counts"]["created"] == 2, status
    items = await board_items(api)
    assert items["Ada"]["values"]["text"] == items["Bob"]["values"]["text"] == "from the CRM"
    assert items["Ada"]["values"]["status"] == "Stuck" and "status" not in items["Bob"]["values"]


async def test_a_mapping_without_an_index_or_a_default_is_bad_user_input(api: Api) -> None:
    response = await api.post(
        """mutation($m: [ItemsJobFieldMapping!]) { ingest_items(board_id: "100",
            group_id: "topics", field_mappings: $m) { job_id } }""",
        {"m": [{"column_id": "name", "index": 0}, {"column_id": "text"}]},
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "without an index needs a default_value" in error["message"]
    assert error["extensions"]["error_data"] == {"column_ids": ["text"]}


@pytest.mark.parametrize(
    ("mappings", "message"),
    [
        (
            [{"column_id": "name", "index": 0}, {"column_id": "email", "index": 5}],
            "index 5 is outside the row",
        ),
    ],
)
async def test_bad_field_mappings_reject_the_upload_naming_the_problem(
    api: Api, mappings: list[dict[str, Any]], message: str
) -> None:
    status = await run_import(api, "a,b\nx,y@example.com\n", field_mappings=mappings)
    assert status["status"] == "REJECTED"
    assert status["failure_reason"] == "INVALID_UPLOAD"
    assert message in status["failure_message"]


async def test_latin1_file_with_its_character_encoding(api: Api) -> None:
    body = "name,text\nCafé,crème brûlée\n".encode("latin-1")
    status = await run_import(api, body, character_encoding="ISO-8859-1")
    assert status["counts"]["created"] == 1, status
    assert (await board_items(api))["Café"]["values"]["text"] == "crème brûlée"
    refused = await run_import(api, body)
    assert refused["status"] == "REJECTED" and "UTF-8" in refused["failure_message"]


async def test_utf16_file_with_its_character_encoding(api: Api) -> None:
    body = "name,text\nÜber,ok\n".encode("utf-16")
    status = await run_import(api, body, character_encoding="UTF-16")
    assert status["counts"]["created"] == 1, status
    assert "Über" in await board_items(api)


async def test_unknown_character_encoding_is_bad_user_input(api: Api) -> None:
    response = await api.post(
        'mutation { ingest_items(board_id: "100", group_id: "topics", character_encoding: "klingon") { job_id } }'
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("name", ["base64", "rot13", "hex", "zlib", "undefined"])
async def test_a_codec_that_is_not_a_charset_is_bad_user_input(api: Api, name: str) -> None:
    response = await api.post(
        'mutation($e: String) { ingest_items(board_id: "100", group_id: "topics", character_encoding: $e) { job_id } }',
        {"e": name},
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "not a character set" in error["message"]


async def test_utf16_file_without_a_bom_is_rejected_as_invalid_upload(api: Api) -> None:
    status = await run_import(api, "name\nÜber\n".encode("utf-16-le"), character_encoding="UTF-16")
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "INVALID_UPLOAD"
    assert (
        status["failure_message"]
        == "The file is not valid UTF-16: UTF-16 stream does not start with BOM"
    )


@pytest.mark.parametrize("column_id", ["text", "name"])
async def test_a_column_mapped_twice_is_bad_user_input(api: Api, column_id: str) -> None:
    mappings = [
        {"column_id": "name", "index": 0},
        {"column_id": "text", "index": 1},
        {"column_id": column_id, "index": 2},
    ]
    response = await api.post(
        'mutation($m: [ItemsJobFieldMapping!]) { ingest_items(board_id: "100", group_id: "topics", field_mappings: $m) { job_id } }',
        {"m": mappings},
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert f"{column_id!r} is mapped more than once" in error["message"]


async def test_dry_run_reports_every_row_and_leaves_the_board_and_budget_alone(api: Api) -> None:
    before = await board_items(api)
    body = "name,email,status\nExisting lead,old@acme.example.com,Stuck\nNew one,n@example.com,Done\nBad,b@example.com,nope\n"
    status = await run_import(api, body, on_match=UPSERT_EMAIL, dry_run=True)
    assert status["status"] == "COMPLETED"
    assert status["counts"] == {
        "submitted": 3,
        "invalid": 1,
        "skipped": 0,
        "created": 1,
        "updated": 1,
        "failed": 0,
    }
    assert await board_items(api) == before
    report = {r["name"]: r for r in await download_report(status)}
    assert (
        report["Existing lead"]["__status"] == "updated"
        and report["Existing lead"]["__item_id"] == "1000"
    )
    assert report["New one"]["__status"] == "created" and report["New one"]["__item_id"] == ""
    assert report["Bad"]["__status"] == "invalid"
    job = (await api.admin("GET", f"/__admin/jobs/{status['job_id']}")).json()
    assert job["options"]["budget_taken"] == 0


async def test_all_rows_report_maps_every_row_to_its_item(api: Api) -> None:
    body = "name,status\nOne,Done\nTwo,Stuck\nThree,bad label\n"
    status = await run_import(api, body, report="ALL_ROWS")
    report = await download_report(status)
    assert [r["__status"] for r in report] == ["created", "created", "invalid"]
    items = await board_items(api)
    assert report[0]["__item_id"] == items["One"]["id"]
    assert report[1]["__item_id"] == items["Two"]["id"]


class Receiver:
    """A local HTTP listener for callbacks: fails the first `failures` deliveries."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(500 if len(receiver.received) <= receiver.failures else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(failures=1) as listening:
        yield listening


async def test_callback_is_signed_and_retried_after_a_failure(api: Api, receiver: Receiver) -> None:
    status = await run_import(
        api, "name\nCalled back\n", callback={"url": receiver.url, "method": "POST"}
    )
    for _ in range(100):
        if len(receiver.received) >= 2:
            break
        await asyncio.sleep(0.1)
    assert len(receiver.received) == 2, receiver.received
    secret = (await api.gql("{ account { callback_secret } }"))["account"]["callback_secret"]
    for headers, body in receiver.received:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Signature-SHA256"] == expected
        payload = json.loads(body)
        assert payload["job_id"] == status["job_id"]
        assert payload["status"] == "COMPLETED" and payload["counts"]["created"] == 1
    assert receiver.received[1][0]["X-Attempt"] == "2"


async def test_callback_secret_is_for_admins_only(api: Api) -> None:
    response = await api.post("{ account { id callback_secret } }", token="tok-bob")
    assert response.json()["errors"][0]["extensions"]["code"] == "USER_UNAUTHORIZED"
    assert (await api.gql("{ account { id name slug plan { tier } } }", token="tok-bob"))["account"] == {
        "id": "1", "name": "Acme", "slug": "acme", "plan": {"tier": "enterprise"}
    }  # fmt: skip


async def test_job_status_subscription_pushes_every_change_until_the_end(
    api: Api, server: ServerProcess
) -> None:
    job = await start_job(api)
    query = "subscription($id: ID!) { job_status(job_id: $id) { ... on ItemsJobStatus { status progress_percentage counts { created } } } }"
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await ws.send_json(
            {
                "id": "j",
                "type": "subscribe",
                "payload": {"query": query, "variables": {"id": job["job_id"]}},
            }
        )
        first = await ws.receive_json(timeout=10)
        assert first["payload"]["data"]["job_status"]["status"] == "UPLOAD_PENDING"
        body = "name\n" + "".join(f"r{i}\n" for i in range(3000))
        assert (await upload(job["upload_url"], body)).status_code == 200
        statuses = []
        while True:
            message = await ws.receive_json(timeout=30)
            if message["type"] == "complete":
                break
            statuses.append(message["payload"]["data"]["job_status"])
    assert statuses[-1]["status"] == "COMPLETED" and statuses[-1]["counts"]["created"] == 3000
    assert "PROCESSING" in [s["status"] for s in statuses]
    progress = [s["progress_percentage"] for s in statuses]
    assert progress == sorted(progress)


async def test_job_status_subscription_to_a_foreign_job_is_not_found(
    api: Api, server: ServerProcess
) -> None:
    job = await start_job(api)
    query = (
        "subscription($id: ID!) { job_status(job_id: $id) { ... on ItemsJobStatus { status } } }"
    )
    async with websocket(server.url, "graphql-transport-ws", token="tok-gus") as ws:
        await ws.send_json(
            {
                "id": "j",
                "type": "subscribe",
                "payload": {"query": query, "variables": {"id": job["job_id"]}},
            }
        )
        message = await ws.receive_json(timeout=10)
        assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"


SUBITEMS = {"parent_key_column_id": "email", "parent_key_header": "parent_email"}


async def import_with_subitems(
    api: Api, parents: str, children: str, **options: Any
) -> dict[str, Any]:
    query = """mutation($b: ID!, $g: String!, $s: ItemsJobSubitemsInput, $d: Boolean) {
        ingest_items(board_id: $b, group_id: $g, subitems: $s, dry_run: $d) { job_id upload_url subitems_upload_url } }"""
    job = (
        await api.gql(
            query, {"b": "100", "g": "topics", "s": SUBITEMS, "d": options.get("dry_run")}
        )
    )["ingest_items"]
    assert (await upload(job["upload_url"], parents)).status_code == 200
    pending = await api.gql(
        "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { status } } }",
        {"id": job["job_id"]},
    )
    await asyncio.sleep(1.0)
    assert pending["fetch_job_status"]["status"] == "UPLOAD_PENDING"  # waits for both files
    assert (await upload(job["subitems_upload_url"], children)).status_code == 200
    return {**await wait_for_job(api, job["job_id"]), "job_id": job["job_id"]}


PARENTS = "name,email\nAcme deal,acme@example.com\nGlobex deal,globex@example.com\n"
CHILDREN = (
    "name,parent_email,status\n"
    "Call Acme,acme@example.com,Done\nSend quote,acme@example.com,Stuck\n"
    "Visit Globex,globex@example.com,\nOrphan,nobody@example.com,Done\nBad,acme@example.com,nope\n"
)


async def test_parent_child_files_create_subitems_joined_by_key(api: Api) -> None:
    status = await import_with_subitems(api, PARENTS, CHILDREN)
    assert status["status"] == "COMPLETED", status
    assert status["counts"] == {
        "submitted": 7,
        "invalid": 2,
        "skipped": 0,
        "created": 5,
        "updated": 0,
        "failed": 0,
    }
    data = await api.gql(
        "{ boards(ids: [100]) { items(limit: 100) { name parent_item { name } } } }"
    )
    parents = {i["name"]: (i["parent_item"] or {}).get("name") for i in data["boards"][0]["items"]}
    assert parents["Call Acme"] == parents["Send quote"] == "Acme deal"
    assert parents["Visit Globex"] == "Globex deal"
    assert "Orphan" not in parents and "Bad" not in parents
    report = await api.gql(
        "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { report_created subitems_report_url } } }",
        {"id": status["job_id"]},
    )
    url = report["fetch_job_status"]["subitems_report_url"]
    async with httpx.AsyncClient() as client:
        rows = list(csv.DictReader(io.StringIO((await client.get(url)).text)))
    assert {(r["name"], r["__line"], r["__errors"].split(":")[1].strip()) for r in rows} == {
        ("Orphan", "5", "PARENT_NOT_FOUND"), ("Bad", "6", "INVALID_STATUS_LABEL")
    }  # fmt: skip


async def test_parent_child_dry_run_writes_nothing(api: Api) -> None:
    before = await board_items(api)
    status = await import_with_subitems(api, PARENTS, CHILDREN, dry_run=True)
    assert status["counts"]["created"] == 5 and status["counts"]["invalid"] == 2
    assert await board_items(api) == before


async def test_children_of_a_skipped_parent_are_not_created(api: Api) -> None:
    query = """mutation($s: ItemsJobSubitemsInput, $m: ItemsJobOnMatchInput) {
        ingest_items(board_id: "100", group_id: "topics", subitems: $s, on_match: $m) { job_id upload_url subitems_upload_url } }"""
    job = (
        await api.gql(
            query, {"s": SUBITEMS, "m": {"behaviour": "UPDATE", "match_column_id": "email"}}
        )
    )["ingest_items"]
    await upload(job["upload_url"], "name,email\nNo match,none@example.com\n")
    await upload(job["subitems_upload_url"], "name,parent_email\nChild,none@example.com\n")
    status = await wait_for_job(api, job["job_id"])
    assert status["counts"]["skipped"] == 1 and status["counts"]["invalid"] == 1, status
    assert "Child" not in await board_items(api)


@pytest.mark.parametrize(
    ("encoding", "body", "message"),
    [
        (
            "windows-1252",
            b"name,text\nCaf\xe9,ok\n\nBad,a\x81b\n",
            "Line 4 is not valid windows-1252 (byte 0x81 at column 6): "
            "character maps to <undefined>",
        ),
        (
            "shift_jis",
            "name\n日本\r\n".encode("shift_jis") + b"x\x81 \n",
            "Line 3 is not valid shift_jis (byte 0x81 at column 2): illegal multibyte sequence",
        ),
        (
            "UTF-16",
            "name\r\nab\r".encode("utf-16") + b"\x00\xd8A\x00",
            "Line 3 is not valid UTF-16 (byte 0x00 at column 1): illegal UTF-16 surrogate",
        ),
        (  # 1.3 MB: the file is read in pieces, cut anywhere (in a \r\n, in a character)
            "UTF-16",
            ("name\r\n" + ("r" * 30 + "\r\n") * 20_000 + "ab").encode("utf-16") + b"\x00\xd8A\x00",
            "Line 20002 is not valid UTF-16 (byte 0x00 at column 3): illegal UTF-16 surrogate",
        ),
    ],
    ids=["windows-1252", "shift_jis", "UTF-16", "UTF-16 in pieces"],
)
async def test_bytes_that_do_not_decode_in_the_named_charset_name_their_line(
    api: Api, encoding: str, body: bytes, message: str
) -> None:
    # as a file that is not UTF-8 does: the message named the charset's complaint only,
    # and the client had to hunt for the byte in the whole file
    status = await run_import(api, body, character_encoding=encoding)
    assert status["status"] == "REJECTED", status
    assert (status["failure_reason"], status["failure_message"]) == ("INVALID_UPLOAD", message)
