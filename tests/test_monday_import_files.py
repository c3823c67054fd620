"""The uploaded file: what is refused as a whole, what is read, the S3 upload rules, the sizes
and row counts, and a chunk the database refuses."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.conftest import Api, ServerProcess
from tests.importing import (
    board_items,
    csv_text,
    download_report,
    item_count,
    job_status,
    refusing_name,
    report_by_name,
    run_import,
    start_job,
    stored_values,
    upload,
    wait_for_job,
)

NOTHING_WRITTEN = {"Existing lead"}  # the demo board's only item
SIGNATURE_CHECKED = 1.0  # seconds a slow upload waits after its first bytes


async def assert_rejected(
    api: Api, body: bytes | str, reason: str, *fragments: str, **kwargs: Any
) -> dict[str, Any]:
    """The file is REJECTED with `reason`, the message names each fragment, the board is
    untouched and no report is made."""
    status = await run_import(api, body, **kwargs)
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == reason, status
    message = status["failure_message"] or ""
    for fragment in fragments:
        assert fragment.lower() in message.lower(), (fragment, message)
    assert status["fully_imported"] is False
    assert status["report_created"] is False and status["report_url"] is None
    assert status["counts"]["created"] == 0 and status["counts"]["updated"] == 0, status
    assert set(await board_items(api, kwargs.get("board_id", "100"))) == NOTHING_WRITTEN
    return status


# Files refused as a whole: REJECTED, INVALID_UPLOAD, a message naming the problem


async def test_file_without_the_name_header_is_rejected(api: Api) -> None:
    await assert_rejected(api, "text,status\nx,Done\n", "INVALID_UPLOAD", "first header", "'name'")


async def test_capitalised_name_header_is_rejected_naming_it(api: Api) -> None:
    await assert_rejected(api, "Name,text\nA,x\n", "INVALID_UPLOAD", "'Name'", "case-sensitive")


async def test_name_header_that_is_not_first_is_rejected(api: Api) -> None:
    await assert_rejected(api, "text,name\nx,A\n", "INVALID_UPLOAD", "first header", "'name'")


async def test_unknown_column_id_is_rejected_naming_the_header(api: Api) -> None:
    # column ids are case-sensitive and titles are not ids: the board's "Status" is `status`
    await assert_rejected(api, "name,Status\nA,Done\n", "INVALID_UPLOAD", "'Status'")
    await assert_rejected(api, "name,Notes\nA,x\n", "INVALID_UPLOAD", "'Notes'")


async def test_duplicate_header_is_rejected_naming_it(api: Api) -> None:
    await assert_rejected(api, "name,text,text\nA,x,y\n", "INVALID_UPLOAD", "duplicate", "'text'")


async def test_empty_header_cell_is_rejected(api: Api) -> None:
    await assert_rejected(api, "name,,text\nA,,x\n", "INVALID_UPLOAD", "header cell 2", "empty")


async def test_undecodable_bytes_are_rejected_naming_the_line(api: Api) -> None:
    body = "name,text\nOK,fine\nCafé,x\n".encode("latin-1")
    await assert_rejected(api, body, "INVALID_UPLOAD", "line 3", "UTF-8")


async def test_unterminated_quote_is_rejected_naming_the_line(api: Api) -> None:
    body = 'name,text\nA,x\nB,"never closed\nC,y\n'
    await assert_rejected(api, body, "INVALID_UPLOAD", "line 3")


async def test_text_after_a_closing_quote_is_rejected_naming_the_line(api: Api) -> None:
    await assert_rejected(api, 'name,text\nA,x\nB,"quoted"tail\n', "INVALID_UPLOAD", "line 3")


async def test_nul_byte_is_rejected_naming_the_line(api: Api) -> None:
    await assert_rejected(api, b"name,text\nA,x\nB,nul\x00here\n", "INVALID_UPLOAD", "line 3")


async def test_empty_file_is_rejected(api: Api) -> None:
    await assert_rejected(api, b"", "INVALID_UPLOAD", "empty")


async def test_file_of_blank_lines_is_rejected_as_empty(api: Api) -> None:
    await assert_rejected(api, b"\n\n\n", "INVALID_UPLOAD", "empty")


async def test_a_bad_header_rejects_even_a_file_of_valid_rows(api: Api) -> None:
    rows = "".join(f"Row {n},x\n" for n in range(50))
    await assert_rejected(api, "name,nope\n" + rows, "INVALID_UPLOAD", "'nope'")


# Files that are read: encodings, line endings, quoting, sizes, ragged rows


async def test_utf8_bom_is_ignored(api: Api) -> None:
    body = "\ufeffname,text\nCafé,crème\n".encode()
    status = await run_import(api, body)
    assert status["counts"]["created"] == 1 and status["fully_imported"], status
    assert (await stored_values(api))["Café"]["text"] == ("crème", "crème")


async def test_crlf_and_mixed_line_endings_are_read(api: Api) -> None:
    body = b"name,text,status\r\nA,one,Done\r\nB,two,Stuck\nC,three,Working on it\r\n"
    status = await run_import(api, body)
    assert status["counts"]["created"] == 3 and status["fully_imported"], status
    stored = await stored_values(api)
    assert stored["A"]["text"][0] == "one" and stored["A"]["status"][0] == "Done"
    assert stored["B"]["status"][0] == "Stuck"
    assert stored["C"]["status"][0] == "Working on it"  # no stray "\r" in the last cell


async def test_bare_cr_line_endings_are_read(api: Api) -> None:
    status = await run_import(api, b"name,text\r\nA,one\rB,two\nC,three\r")
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 3, status
    stored = await stored_values(api)
    assert [stored[n]["text"][0] for n in "ABC"] == ["one", "two", "three"]


async def test_rfc4180_quoting_keeps_newlines_commas_and_quotes(api: Api) -> None:
    body = (
        "name,text,dropdown\n"
        '"Smith, John","He said ""hi""\nand left",Option A\n'
        '"Two\r\nlines",plain,"Option B, Option C"\n'
        "Bad,after quoted newlines,Option Z\n"
    )
    status = await run_import(api, body)
    assert status["counts"]["created"] == 2 and status["counts"]["invalid"] == 1, status
    stored = await stored_values(api)
    assert stored["Smith, John"]["text"][0] == 'He said "hi"\nand left'
    assert stored["Two\r\nlines"]["dropdown"][0] == "Option B, Option C"
    report = await download_report(status)
    # the invalid record starts on physical line 6: quoted newlines count as lines
    assert [(r["name"], r["__line"]) for r in report] == [("Bad", "6")]


async def test_header_only_file_completes_with_nothing_submitted(api: Api) -> None:
    status = await run_import(api, "name,text,status\n")
    assert status["status"] == "COMPLETED", status
    assert status["counts"] == {
        "submitted": 0, "invalid": 0, "skipped": 0, "created": 0, "updated": 0, "failed": 0
    }  # fmt: skip
    assert status["progress_percentage"] == 100
    assert status["fully_imported"] is True
    assert status["report_created"] is False
    assert set(await board_items(api)) == NOTHING_WRITTEN


async def test_blank_lines_between_rows_are_skipped(api: Api) -> None:
    status = await run_import(api, "name,text\n\nA,x\n\n\nB,y\n")
    assert status["counts"]["submitted"] == 2 and status["counts"]["created"] == 2, status


async def test_a_200_kb_field_is_stored_whole(api: Api) -> None:
    big = "".join(chr(ord("a") + n % 26) for n in range(200 * 1024))
    status = await run_import(api, csv_text(["name", "text"], [["Big", big], ["Small", "s"]]))
    assert status["counts"]["created"] == 2 and status["fully_imported"], status
    stored = await stored_values(api)
    assert stored["Big"]["text"] == (big, big)


async def test_short_rows_leave_missing_cells_empty(api: Api) -> None:
    status = await run_import(api, "name,text,status,numeric\nShort,x\nShorter\nFull,y,Done,3\n")
    assert status["counts"]["created"] == 3 and status["fully_imported"], status
    stored = await stored_values(api)
    assert stored["Short"] == {"text": ("x", "x")}
    assert stored["Shorter"] == {}
    assert stored["Full"]["numeric"][0] == "3"


async def test_long_rows_are_invalid_with_too_many_cells(api: Api) -> None:
    status = await run_import(api, "name,text,status\nLong,x,Done,extra\nFine,y,Stuck\n")
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 1 and status["counts"]["invalid"] == 1, status
    report = await report_by_name(status)
    assert report["Long"]["__line"] == "2"
    assert report["Long"]["__errors"].startswith("row: TOO_MANY_CELLS: "), report
    assert set(await board_items(api)) == {*NOTHING_WRITTEN, "Fine"}


async def test_a_row_of_millions_of_cells_is_an_invalid_row(api: Api) -> None:
    # the row was kept for the report with all its cells: 32 million of them passed what
    # PostgreSQL takes in one value, and the job ended FAILED, INTERNAL_ERROR
    body = b"name,text\nWide,x" + b"," * 32_000_000 + b"\nFine,y\n"
    status = await run_import(api, body)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 1 and status["counts"]["invalid"] == 1, status
    report = await download_report(status)
    assert [(row["name"], row["text"], row["__errors"]) for row in report] == [
        ("Wide", "x", "row: TOO_MANY_CELLS: The row has 32000000 more cell(s) than the header")
    ]


async def test_file_over_150_mb_is_rejected_as_too_large(api: Api) -> None:
    row = b"Row,some text\n"
    body = b"name,text\n" + row * (151 * 1024 * 1024 // len(row) + 1)
    assert len(body) > 151 * 1024 * 1024
    status = await assert_rejected(api, body, "FILE_TOO_LARGE", "150 MB")
    assert f"{len(body):,}" in status["failure_message"]


async def test_ingest_of_10001_rows_is_rejected_and_writes_nothing(api: Api) -> None:
    body = "name\n" + "".join(f"R{n}\n" for n in range(10_001))
    status = await assert_rejected(api, body, "INVALID_UPLOAD", "10,000", "rows")
    assert status["counts"]["created"] == 0


async def test_ingest_of_10000_rows_is_accepted(api: Api) -> None:
    body = "name\n" + "".join(f"R{n}\n" for n in range(10_000))
    status = await run_import(api, body)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["submitted"] == 10_000 and status["counts"]["created"] == 10_000
    assert status["fully_imported"]
    last_page = await api.gql("query { boards(ids: [100]) { items(limit: 500, page: 21) { id } } }")
    assert len(last_page["boards"][0]["items"]) == 1  # 10,000 new items + the one there before


async def test_backfill_of_20001_rows_is_rejected_and_writes_nothing(api: Api) -> None:
    body = "name\n" + "".join(f"R{n}\n" for n in range(20_001))
    await assert_rejected(api, body, "INVALID_UPLOAD", "20,000", "rows", mutation="backfill_items")


async def test_backfill_takes_more_rows_than_ingest(api: Api) -> None:
    body = "name\n" + "".join(f"R{n}\n" for n in range(10_001))
    status = await run_import(api, body, mutation="backfill_items")
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 10_001


# The S3 upload rules, through the URL the server hands out


async def test_upload_with_an_unsigned_checksum_header_is_refused(api: Api) -> None:
    job = await start_job(api)
    refused = await upload(
        job["upload_url"], "name\nA\n", headers={"x-amz-checksum-crc32": "AAAAAA=="}
    )
    assert refused.status_code == 403, refused.text
    assert "HeadersNotSigned" in refused.text
    assert (await job_status(api, job["job_id"]))["status"] == "UPLOAD_PENDING"
    # the documented fix: the same URL with only Content-Type
    accepted = await upload(job["upload_url"], "name\nA\n")
    assert accepted.status_code == 200 and accepted.headers.get("etag"), accepted.text
    assert (await wait_for_job(api, job["job_id"]))["counts"]["created"] == 1


async def test_upload_with_a_tampered_signature_is_refused(api: Api) -> None:
    job = await start_job(api)
    parts = urllib.parse.urlsplit(job["upload_url"])
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    tampered = [
        (k, (v[:-1] + ("0" if v[-1] != "0" else "1")) if k == "X-Amz-Signature" else v)
        for k, v in query
    ]
    assert tampered != query
    url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(tampered)))
    refused = await upload(url, "name\nA\n")
    assert refused.status_code == 403, refused.text
    assert "SignatureDoesNotMatch" in refused.text
    assert (await job_status(api, job["job_id"]))["status"] == "UPLOAD_PENDING"


async def test_upload_without_a_content_length_is_refused_and_can_be_sent_again(api: Api) -> None:
    # as on S3: 411 MissingContentLength; the file, which the server cannot read, was stored
    # empty and the job REJECTED as an empty file
    job = await start_job(api)
    url = urllib.parse.urlsplit(job["upload_url"])
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    request = (
        f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Content-Type: text/csv\r\nConnection: close\r\n\r\nname\nUnsized\n"
    )
    writer.write(request.encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 411 "), answer
    assert b"<Code>MissingContentLength</Code>" in answer, answer
    await asyncio.sleep(1)  # what the server would have noticed by now
    assert (await job_status(api, job["job_id"]))["status"] == "UPLOAD_PENDING"
    assert (await upload(job["upload_url"], "name\nSized\n")).status_code == 200
    assert (await wait_for_job(api, job["job_id"]))["counts"]["created"] == 1


async def test_upload_after_ten_minutes_is_refused_as_expired(api: Api) -> None:
    job = await start_job(api)
    try:
        moved = await api.admin("POST", "/__admin/clock", {"advance_seconds": 601})
        assert moved.status_code == 200, moved.text
        refused = await upload(job["upload_url"], "name\nA\n")
        assert refused.status_code == 403, refused.text
        assert "AccessDenied" in refused.text and "Request has expired" in refused.text
    finally:
        await api.admin("POST", "/__admin/clock", {"reset": True})
    assert set(await board_items(api)) == NOTHING_WRITTEN


async def test_upload_within_ten_minutes_is_accepted(api: Api) -> None:
    job = await start_job(api)
    try:
        await api.admin("POST", "/__admin/clock", {"advance_seconds": 590})
        accepted = await upload(job["upload_url"], "name\nA\n")
        assert accepted.status_code == 200, accepted.text
        assert (await wait_for_job(api, job["job_id"]))["counts"]["created"] == 1
    finally:
        await api.admin("POST", "/__admin/clock", {"reset": True})


async def left_upload_pending(api: Api, job_id: str, within: float) -> str:
    """The job's first status other than UPLOAD_PENDING, polled for `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        status = (await job_status(api, job_id))["status"]
        if status != "UPLOAD_PENDING":
            return str(status)
        assert time.monotonic() < deadline, f"job {job_id} still UPLOAD_PENDING"
        await asyncio.sleep(0.1)


async def test_upload_during_a_long_job_is_noticed_at_once(api: Api) -> None:
    # uploads were only looked for between jobs: the second job stayed UPLOAD_PENDING while
    # the first ran (for ever, had the first run past the second's URL expiry)
    busy, late = await start_job(api), await start_job(api)
    slow = {"operation": "upload", "error": "SLOW", "delay_ms": 6000}
    assert (await api.admin("POST", "/__admin/faults", slow)).status_code == 200
    try:
        assert (await upload(busy["upload_url"], "name\nFirst\n")).status_code == 200
        await left_upload_pending(api, busy["job_id"], within=5)
        accepted = await upload(late["upload_url"], "name\nSecond\n")
        assert accepted.status_code == 200 and accepted.headers.get("etag"), accepted.text
        assert await left_upload_pending(api, late["job_id"], within=3) == "PROCESSING"
        assert (await job_status(api, busy["job_id"]))["status"] == "PROCESSING"
    finally:
        await api.admin("DELETE", "/__admin/faults")
    for job in (busy, late):
        assert (await wait_for_job(api, job["job_id"]))["counts"]["created"] == 1


async def test_upload_begun_in_time_that_ends_after_the_url_expired_starts_the_job(
    api: Api,
) -> None:
    # S3 checks the expiry when a PUT begins: a large file sent just in time lands after it
    job = await start_job(api)
    body = b"name\n" + b"".join(b"Row %d\n" % n for n in range(1000))

    async def sent_slowly() -> AsyncIterator[bytes]:
        yield body[:100]
        # the PUT has begun; the rest arrives half an hour later. The pause lets the endpoint
        # read the headers and check the signature first (on a busy machine its thread may
        # not have run yet when the clock moves)
        await asyncio.sleep(SIGNATURE_CHECKED)
        moved = await api.admin("POST", "/__admin/clock", {"advance_seconds": 1800})
        assert moved.status_code == 200, moved.text
        yield body[100:]

    try:
        await api.admin("POST", "/__admin/clock", {"advance_seconds": 590})
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.put(
                job["upload_url"],
                content=sent_slowly(),
                headers={"Content-Type": "text/csv", "Content-Length": str(len(body))},
            )
        assert response.status_code == 200 and response.headers.get("etag"), response.text
        status = await wait_for_job(api, job["job_id"])
        assert status["status"] == "COMPLETED" and status["counts"]["created"] == 1000, status
    finally:
        await api.admin("POST", "/__admin/clock", {"reset": True})


# A chunk the database refuses


async def test_only_the_row_the_database_refuses_fails(api: Api, server: ServerProcess) -> None:
    rows = [[f"Row {n}", f"text {n}", "Done"] for n in range(1, 8)]
    rows.insert(3, ["Poison", "bad", "Stuck"])
    body = csv_text(["name", "text", "status"], rows)
    async with refusing_name(server, "Poison"):
        status = await run_import(api, body)
    assert status["status"] == "COMPLETED", status
    assert status["counts"] == {
        "submitted": 8, "invalid": 0, "skipped": 0, "created": 7, "updated": 0, "failed": 1
    }  # fmt: skip
    assert status["fully_imported"] is False
    report = await download_report(status)
    assert len(report) == 1
    assert report[0]["name"] == "Poison" and report[0]["__line"] == "5"
    assert report[0]["__status"] == "failed" and report[0]["__item_id"] == ""
    assert "test trigger refuses item Poison" in report[0]["__errors"]
    stored = await stored_values(api)
    assert set(stored) == {*NOTHING_WRITTEN, *(f"Row {n}" for n in range(1, 8))}
    assert stored["Row 4"] == {
        "text": ("text 4", "text 4"),
        "status": ("Done", {"index": 1, "label": "Done"}),
    }
    # the chunk was rolled back and its good rows written once each
    assert await item_count(api) == 8
    logs = await api.gql("query { boards(ids: [100]) { activity_logs(limit: 100) { event } } }")
    assert [log["event"] for log in logs["boards"][0]["activity_logs"]] == ["create_pulse"] * 7


async def test_repeated_key_after_a_refused_row_creates_the_item(
    api: Api, server: ServerProcess
) -> None:
    body = "name,email,numeric\nPoison,dup@example.com,1\nSecond,dup@example.com,2\n"
    async with refusing_name(server, "Poison"):
        status = await run_import(
            api, body, on_match={"behaviour": "UPSERT", "match_column_id": "email"}
        )
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["failed"] == 1 and status["counts"]["created"] == 1, status
    stored = await stored_values(api)
    assert stored["Second"]["email"][0] == "dup@example.com"
    assert stored["Second"]["numeric"][0] == "2"


async def test_a_long_text_value_is_stored(api: Api) -> None:
    long_text = "x" * 300_000
    status = await run_import(api, f"name,text\nLong,{long_text}\n")
    assert status["counts"]["created"] == 1, status
    assert (await board_items(api))["Long"]["values"]["text"] == long_text
