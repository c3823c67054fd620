"""Zoho-style bulk-write options on ingest_items/backfill_items, and what they leave unchanged."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import Api
from tests.importing import board_items, download_report, run_import

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


@pytest.mark.parametrize(
    ("mappings", "message"),
    [
        (
            [{"column_id": "name", "index": 0}, {"column_id": "email", "index": 5}],
            "index 5 is outside the row",
        ),
        (
            [{"column_id": "name", "index": 0}, {"column_id": "nope", "index": 1}],
            "'nope' is not a column id",
        ),
        ([{"column_id": "email", "index": 1}], "must map 'name'"),
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
