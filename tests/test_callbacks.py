"""Completion callbacks whatever way a job ends: one delivery each, with the final status.
(Signatures and retries: tests/test_zoho_options.py; a crash as a job ends:
tests/reliability/test_crash.py.)"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import Api
from tests.importing import run_import
from tests.test_zoho_options import Receiver


async def test_rejected_failed_and_dry_run_jobs_each_call_back_once(api: Api) -> None:
    expected: dict[str, tuple[str, str | None]] = {}
    with Receiver(failures=0) as receiver:
        callback = {"url": receiver.url, "method": "POST"}
        for error, final in (("FILE_TOO_LARGE", "REJECTED"), ("INTERNAL_ERROR", "FAILED")):
            await api.admin("POST", "/__admin/faults", {"operation": "upload", "error": error})
            status = await run_import(api, "name\nx\n", callback=callback)
            expected[status["job_id"]] = (final, error)
        status = await run_import(api, "name\nx\n", callback=callback, dry_run=True)
        expected[status["job_id"]] = ("COMPLETED", None)
        for _ in range(100):
            if len(receiver.received) >= len(expected):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # time enough for a second delivery, were there one
    payloads = [json.loads(body) for _, body in receiver.received]
    assert len(payloads) == len(expected), payloads
    assert {p["job_id"]: (p["status"], p["failure_reason"]) for p in payloads} == expected


async def test_job_end_fault_is_a_crash_or_nothing(api: Api) -> None:
    refused = await api.admin("POST", "/__admin/faults", {"operation": "job_end", "error": "SLOW"})
    assert refused.status_code == 400
    assert "CRASH" in refused.text


async def _callback_error(api: Api, url: str) -> dict[str, Any]:
    # ascii escapes: a lone surrogate travels as JSON allows it, "\ud800"
    body = json.dumps(
        {
            "query": """mutation($c: ItemsJobCallbackInput) { ingest_items(board_id: "100",
                group_id: "topics", callback: $c) { job_id } }""",
            "variables": {"c": {"url": url, "method": "POST"}},
        }
    )
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": "tok-ada", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    errors = response.json().get("errors")
    assert errors, response.text
    return dict(errors[0])


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/",  # unclosed IPv6 literal
        "http://[v1.x]/",
        "http://ho\tst/",  # control character
        "http://:80/",  # no host
        "http://user@/",
        "http://example.com:abc/",  # port that is no number
        "http://xn--a.com/",  # punycode that does not decode
        "http://\ud800/",  # lone surrogate
        "http://example.com/\x7f",
    ],
)
async def test_a_callback_url_that_cannot_be_called_is_bad_user_input(api: Api, url: str) -> None:
    # such a URL was accepted (or crashed the mutation), then every delivery raised before
    # it was sent and was tried again every 30 seconds, for ever
    error = await _callback_error(api, url)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "callback.url" in error["message"], error


class SlowReceiver:
    """A receiver that answers 200 with its headers, then sends its body one byte a second
    (the body it announced is longer than it will ever send), or closes the connection."""

    def __init__(self, *, close_after_headers: bool = False) -> None:
        self.hits = 0
        self.stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                self.wfile.flush()
                self.close_connection = True
                while not close_after_headers and not receiver.stop.wait(1.0):
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> SlowReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


async def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    for _ in range(int(seconds * 10)):
        if condition():
            return True
        await asyncio.sleep(0.1)
    return condition()


async def test_a_slow_receiver_holds_up_no_other_callback(api: Api) -> None:
    # deliveries were sent in batches, each waiting for the slowest of the batch before the
    # next was looked at: a receiver trickling its answer stopped every account's callbacks
    with SlowReceiver() as slow, Receiver(failures=0) as quick:
        await run_import(api, "name\nslow\n", callback={"url": slow.url, "method": "POST"})
        assert await _wait_for(lambda: slow.hits >= 1, 10)
        status = await run_import(
            api, "name\nquick\n", callback={"url": quick.url, "method": "POST"}
        )
        assert await _wait_for(lambda: len(quick.received) >= 1, 8), "quick receiver waited"
        assert json.loads(quick.received[0][1])["job_id"] == status["job_id"]


async def test_a_2xx_answer_is_one_delivery_whatever_its_body_does(api: Api) -> None:
    # the answer's body was read whole, and one cut short (or trickling past the timeout)
    # made the 200 a failed delivery: the callback went out again
    with SlowReceiver(close_after_headers=True) as cut_short:
        await run_import(api, "name\ncut\n", callback={"url": cut_short.url, "method": "POST"})
        assert await _wait_for(lambda: cut_short.hits >= 1, 10)
        await asyncio.sleep(4)  # past the first retries' backoff (1 s, then 2 s)
    assert cut_short.hits == 1
