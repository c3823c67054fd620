"""Per-account limits on the server clock (job starts, the ingest item budget), who may start
which job, and the activity log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.importing import board_items, run_import, start_job, upload, wait_for_job

START = """mutation($b: ID!, $g: String!) {{
    {mutation}(board_id: $b, group_id: $g) {{ job_id upload_url }} }}"""
HOUR = 3600  # seconds


@pytest.fixture
async def clock(api: Api) -> AsyncIterator[Api]:
    """The admin clock, returned to real time after the test."""
    yield api
    response = await api.admin("POST", "/__admin/clock", {"reset": True})
    assert response.status_code == 200, response.text


async def advance(api: Api, seconds: int) -> None:
    response = await api.admin("POST", "/__admin/clock", {"advance_seconds": seconds})
    assert response.status_code == 200, response.text


async def start(
    api: Api, mutation: str = "ingest_items", board_id: str = "100", group_id: str = "topics",
    token: str = "tok-ada",
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """Call a start mutation; return the HTTP status and the JSON body."""
    response = await api.post(
        START.format(mutation=mutation), {"b": board_id, "g": group_id}, token=token
    )
    return response.status_code, response.json()


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    assert error["extensions"]["request_id"], error
    return error


async def last_page_names(api: Api, page: int) -> list[str]:
    data = await api.gql(
        "query($p: Int) { boards(ids: [100]) { items(limit: 500, page: $p) { name } } }",
        {"p": page},
    )
    return [item["name"] for item in data["boards"][0]["items"]]


# 100 job starts per account per hour, shared by both mutations


async def test_101st_job_start_in_an_hour_is_rate_limited_for_both_mutations(clock: Api) -> None:
    api = clock
    for n in range(100):
        mutation = "ingest_items" if n % 2 else "backfill_items"
        http, body = await start(api, mutation)
        assert http == 200 and "errors" not in body, (n, body)
    for mutation in ("ingest_items", "backfill_items"):
        http, body = await start(api, mutation)
        assert http == 429, body
        error = error_of(body)
        assert error["extensions"]["code"] == "RATE_LIMIT_EXCEEDED", error
        retry = error["extensions"]["retryAfterMs"]
        assert isinstance(retry, int) and 0 < retry <= HOUR * 1000, error
    # another account has its own allowance
    http, body = await start(api, "ingest_items", board_id="300", token="tok-gus")
    assert http == 200 and "errors" not in body, body


async def test_retry_after_counts_down_and_the_limit_lifts_after_an_hour(clock: Api) -> None:
    api = clock
    for _ in range(100):
        await start_job(api)
    await advance(api, HOUR // 2)
    http, body = await start(api)
    assert http == 429, body
    retry = error_of(body)["extensions"]["retryAfterMs"]
    assert 0 < retry <= HOUR // 2 * 1000, retry
    await advance(api, HOUR // 2 + 1)
    job = await start_job(api, mutation="backfill_items")
    assert job["job_id"] and job["upload_url"]
    job = await start_job(api)
    assert job["job_id"] and job["upload_url"]


# The 19,000 items per hour ingest budget


def names(prefix: str, count: int) -> str:
    return "name\n" + "".join(f"{prefix}{n}\n" for n in range(count))


async def test_ingest_beyond_the_hourly_item_budget_is_rejected(clock: Api) -> None:
    api = clock
    for prefix, count in (("A", 9_500), ("B", 9_499)):
        status = await run_import(api, names(prefix, count))
        assert status["status"] == "COMPLETED" and status["counts"]["created"] == count, status
    # one item of the budget is left: a job of two valid rows is refused as a whole ...
    status = await run_import(api, "name\nOne too many\nAnd another\n")
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "ACCOUNT_CAPACITY_EXCEEDED"
    assert "19,000" in status["failure_message"]
    assert status["counts"]["created"] == 0
    assert await last_page_names(api, 39) == []  # 1 + 18,999 items fill 38 pages of 500
    # ... without using up what is left: exactly 19,000 fit
    status = await run_import(api, "name\nThe last one\n")
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == 1, status
    assert await last_page_names(api, 39) == ["The last one"]
    status = await run_import(api, "name\nPast the budget\n")
    assert status["failure_reason"] == "ACCOUNT_CAPACITY_EXCEEDED", status
    assert await last_page_names(api, 39) == ["The last one"]


async def test_invalid_rows_do_not_count_against_the_item_budget(clock: Api) -> None:
    api = clock
    await run_import(api, names("A", 9_500))
    await run_import(api, names("B", 9_500))
    status = await run_import(api, "name,status\nBad,No such label\n")
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["invalid"] == 1 and status["counts"]["created"] == 0


async def test_budget_reserved_for_rows_found_invalid_is_given_back(clock: Api) -> None:
    # a flat file is written while it is validated, so the budget is first reserved for every
    # row; the 500 invalid ones are given back when the job ends
    api = clock
    body = names("A", 9_500) + "".join(f"Bad {n},5 September\n" for n in range(500))
    status = await run_import(api, body.replace("name\n", "name,numeric\n", 1))
    assert status["counts"]["created"] == 9_500 and status["counts"]["invalid"] == 500, status
    status = await run_import(api, names("B", 9_499))
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == 9_499, status
    # one item left: six rows would not fit if all were valid, the one valid row does
    status = await run_import(api, "name,numeric\nLast,1\n" + "Bad,x\n" * 5)
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == 1 and status["counts"]["invalid"] == 5, status
    status = await run_import(api, "name\nPast the budget\n")
    assert status["failure_reason"] == "ACCOUNT_CAPACITY_EXCEEDED", status


async def test_rows_whose_key_matches_several_items_take_no_item_budget(clock: Api) -> None:
    # "The job's valid row count would exceed the remaining ... budget": a row whose key
    # matches two items is invalid (MULTIPLE_MATCHES), found so only when it is matched
    api = clock
    twins = "name,email\nTwin 1,twin@example.com\nTwin 2,twin@example.com\n"
    await run_import(api, twins, mutation="backfill_items")
    await run_import(api, names("A", 9_500))
    await run_import(api, names("B", 9_496))  # 4 items of the budget left
    upsert = {"on_match": {"behaviour": "UPSERT", "match_column_id": "email"}}
    for first in ("C", "D"):  # 3 rows, 2 of them valid: they fit in 4, then in 2
        body = f"name,email\n{first}1,{first}1@example.com\n{first}2,{first}2@example.com\n"
        status = await run_import(api, body + "Both,twin@example.com\n", **upsert)
        assert status["status"] == "COMPLETED", status
        assert status["counts"]["created"] == 2 and status["counts"]["invalid"] == 1, status
    status = await run_import(api, "name\nPast the budget\n")
    assert status["failure_reason"] == "ACCOUNT_CAPACITY_EXCEEDED", status


async def test_backfill_ignores_the_item_budget_and_ingest_resumes_after_an_hour(
    clock: Api,
) -> None:
    api = clock
    await run_import(api, names("A", 9_500))
    status = await run_import(api, names("B", 9_500), mutation="backfill_items")
    assert status["counts"]["created"] == 9_500  # backfill takes no budget ...
    status = await run_import(api, names("C", 9_500))
    assert status["counts"]["created"] == 9_500  # ... so ingest still has 9,500 left
    status = await run_import(api, "name\nLate\n")
    assert status["failure_reason"] == "ACCOUNT_CAPACITY_EXCEEDED", status
    status = await run_import(api, names("D", 2_000), mutation="backfill_items")
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == 2_000, status
    await advance(api, HOUR + 1)
    status = await run_import(api, "name\nNext hour\n")
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == 1, status


# Permissions


async def test_view_only_user_cannot_start_an_ingest(api: Api) -> None:
    http, body = await start(api, token="tok-vera")
    assert http == 200, body  # an application error, in monday's format
    error = error_of(body)
    assert error["extensions"]["code"] == "USER_UNAUTHORIZED", error
    assert error["extensions"]["status_code"] == 403
    assert error["extensions"]["error_data"] == {"board_id": "100"}


async def test_comment_only_user_cannot_start_an_ingest(api: Api) -> None:
    await api.load_fixture(
        {
            "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
            "users": [{"id": 16, "account_id": 1, "name": "Cora Commenter",
                       "email": "cora@acme.example.com", "token": "tok-cora"}],
            "boards": [{"id": 420, "account_id": 1, "name": "Feedback",
                        "members": [{"user_id": 10, "role": "OWNER"},
                                    {"user_id": 16, "role": "COMMENT_ONLY"}]}],
        }
    )  # fmt: skip
    _, body = await start(api, board_id="420", token="tok-cora")
    assert error_of(body)["extensions"]["code"] == "USER_UNAUTHORIZED", body
    _, body = await start(api, board_id="420", token="tok-ada")
    assert "errors" not in body, body


async def test_board_member_can_ingest(api: Api) -> None:
    status = await run_import(api, "name,status\nBob's item,Done\n", token="tok-bob")
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == 1, status
    assert (await board_items(api))["Bob's item"]["values"] == {"status": "Done"}


async def test_backfill_by_a_non_admin_is_refused(api: Api) -> None:
    _, body = await start(api, "backfill_items", token="tok-bob")
    error = error_of(body)
    assert error["message"] == "Only admin users can perform this operation.", error


@pytest.mark.parametrize("mutation", ["ingest_items", "backfill_items"])
@pytest.mark.parametrize(
    ("board_id", "group_id"),
    [("999999", "topics"), ("300", "topics"), ("100", "nope"), ("leads", "topics"),
     ("clm4n8qwx000008l0g4oxdqn7", "topics")],
    ids=["unknown board", "board of another account", "unknown group", "board slug",
         "board uid"],
)  # fmt: skip
async def test_unknown_board_or_group_is_not_found(
    api: Api, mutation: str, board_id: str, group_id: str
) -> None:
    _, body = await start(api, mutation, board_id=board_id, group_id=group_id)
    assert error_of(body)["extensions"]["code"] == "NOT_FOUND", body


@pytest.mark.parametrize("mutation", ["ingest_items", "backfill_items"])
async def test_an_archived_group_takes_no_new_items(api: Api, mutation: str) -> None:
    # as create_item: the new items would be hidden with the group
    await api.gql('mutation { archive_group(board_id: 100, group_id: "closed") { id } }')
    _, body = await start(api, mutation, group_id="closed")
    error = error_of(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "'closed' is archived" in error["message"], error


async def test_import_mutations_need_api_version_2026_07(api: Api) -> None:
    for mutation in ("ingest_items", "backfill_items"):
        response = await api.post(
            START.format(mutation=mutation), {"b": "100", "g": "topics"}, version="2025-10"
        )
        body = response.json()
        assert body.get("data") is None, body
        assert mutation in body["errors"][0]["message"], body


async def test_non_member_of_a_board_does_not_see_it(api: Api) -> None:
    _, body = await start(api, board_id="200", token="tok-vera")
    assert error_of(body)["extensions"]["code"] == "NOT_FOUND", body


# Access is checked again when the file is processed

ACME = [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}]


async def upload_after(api: Api, change: dict[str, Any], *, token: str, **kwargs: Any) -> Any:
    """Start a job, apply a fixture change, then upload; return the final status."""
    job = await start_job(api, token=token, **kwargs)
    await api.load_fixture({"accounts": ACME, **change})
    response = await upload(job["upload_url"], "name\nToo late\n")
    assert response.status_code == 200, response.text
    status = await wait_for_job(api, job["job_id"], token="tok-ada")
    assert "Too late" not in await board_items(api)
    return status


async def test_job_of_a_user_who_lost_edit_access_is_rejected_as_permission_denied(
    api: Api,
) -> None:
    demoted = {"boards": [{
        "id": 100, "account_id": 1, "name": "Leads", "uid": "clm4n8qwx000008l0g4oxdqn7",
        "slug": "leads", "groups": [{"id": "topics", "title": "Topics"}],
        "members": [{"user_id": 10, "role": "OWNER"}, {"user_id": 11, "role": "VIEW_ONLY"}],
    }]}  # fmt: skip
    status = await upload_after(api, demoted, token="tok-bob")
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "PERMISSION_DENIED"


async def test_backfill_of_a_user_no_longer_admin_is_rejected_as_permission_denied(
    api: Api,
) -> None:
    ada = {"id": 10, "account_id": 1, "name": "Ada Admin", "email": "ada@acme.example.com",
           "token": "tok-ada", "is_admin": False}  # fmt: skip
    status = await upload_after(api, {"users": [ada]}, token="tok-ada", mutation="backfill_items")
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "PERMISSION_DENIED"
    assert status["failure_message"] == "Only admin users can perform this operation."


async def test_job_of_a_deactivated_user_is_rejected_as_authorization_failed(api: Api) -> None:
    bob = {"id": 11, "account_id": 1, "name": "Bob Member", "email": "bob@acme.example.com",
           "token": "tok-bob", "enabled": False}  # fmt: skip
    status = await upload_after(api, {"users": [bob]}, token="tok-bob")
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "AUTHORIZATION_FAILED"


@pytest.mark.parametrize("change", ["archive_group", "delete_group"])
async def test_job_whose_group_closed_before_the_upload_is_rejected(api: Api, change: str) -> None:
    group = await api.gql(
        'mutation { create_group(board_id: 100, group_name: "Soon gone") { id } }'
    )
    group_id = group["create_group"]["id"]
    job = await start_job(api, group_id=group_id)
    await api.gql(
        f"mutation($g: String!) {{ {change}(board_id: 100, group_id: $g) {{ id }} }}",
        {"g": group_id},
    )
    response = await upload(job["upload_url"], "name\nToo late\n")
    assert response.status_code == 200, response.text
    status = await wait_for_job(api, job["job_id"])
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "INVALID_UPLOAD", status
    assert f"{group_id!r} was {change.split('_')[0]}d" in status["failure_message"], status
    assert status["counts"]["created"] == 0, status
    found = await api.gql(
        '{ items_by_column_values(board_id: 100, column_id: "name", column_value: "Too late") { id } }'
    )
    assert found["items_by_column_values"] == [], found


async def test_job_whose_board_was_deleted_before_the_upload_is_rejected(api: Api) -> None:
    board = await api.gql(
        'mutation { create_board(board_name: "Short-lived", board_kind: public) { id groups { id } } }'
    )
    board_id = board["create_board"]["id"]
    job = await start_job(api, board_id, board["create_board"]["groups"][0]["id"])
    await api.gql("mutation($b: ID!) { delete_board(board_id: $b) { id } }", {"b": board_id})
    response = await upload(job["upload_url"], "name\nToo late\n")
    assert response.status_code == 200, response.text
    status = await wait_for_job(api, job["job_id"])
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "PERMISSION_DENIED", status
    assert status["failure_message"] == f"Board {board_id} was deleted", status
    assert status["counts"]["created"] == 0, status


async def test_job_that_would_pass_100000_items_on_a_board_is_rejected(api: Api) -> None:
    await api.load_fixture(
        {"accounts": ACME, "boards": [{"id": 430, "account_id": 1, "name": "Huge",
                                       "members": [{"user_id": 10, "role": "OWNER"}]}]}
    )  # fmt: skip
    for batch in range(5):
        status = await run_import(api, names(f"B{batch}-", 20_000), board_id="430",
                                  mutation="backfill_items")  # fmt: skip
        assert status["counts"]["created"] == 20_000, status
    status = await run_import(api, "name\nOne more\n", board_id="430")
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "BOARD_CAPACITY_EXCEEDED"
    assert "100,000" in status["failure_message"]
    data = await api.gql("query { boards(ids: [430]) { items(limit: 500, page: 201) { id } } }")
    assert data["boards"][0]["items"] == []
    # rows that update or skip a matched item add none: they fit a full board, a new one not
    for behaviour, outcome in (("UPSERT", "updated"), ("SKIP", "skipped")):
        on_match = {"behaviour": behaviour, "match_column_id": "name"}
        status = await run_import(api, "name\nB0-0\nB4-19999\nB0-0\n", board_id="430",
                                  on_match=on_match)  # fmt: skip
        assert status["status"] == "COMPLETED", status
        assert status["counts"][outcome] == 3 and status["counts"]["created"] == 0, status
        status = await run_import(api, "name\nB0-0\nBrand new\n", board_id="430",
                                  on_match=on_match)  # fmt: skip
        assert status["failure_reason"] == "BOARD_CAPACITY_EXCEEDED", status
        assert "1 more" in status["failure_message"], status


# The activity log


async def activity(api: Api) -> list[dict[str, Any]]:
    data = await api.gql(
        "query { boards(ids: [100]) { activity_logs(limit: 100) { event user_id data } } }"
    )
    logs: list[dict[str, Any]] = data["boards"][0]["activity_logs"]
    return logs


async def test_ingest_writes_activity_log_entries(api: Api) -> None:
    body = "name,email,status\nExisting lead,old@acme.example.com,Stuck\nNew one,new@example.com,Done\n"
    status = await run_import(
        api, body, token="tok-bob", on_match={"behaviour": "UPSERT", "match_column_id": "email"}
    )
    assert status["counts"]["created"] == 1 and status["counts"]["updated"] == 1, status
    items = await board_items(api)
    logs = await activity(api)
    by_item = {json.loads(log["data"])["pulse_id"]: log for log in logs}
    assert by_item[int(items["New one"]["id"])]["event"] == "create_pulse"
    assert by_item[1000]["event"] == "update_column_values"
    assert {log["user_id"] for log in logs} == {"11"}
    assert len(logs) == 2


async def test_backfill_writes_no_activity_log_entries(api: Api) -> None:
    before = await activity(api)
    status = await run_import(api, "name,status\nQuiet one,Done\nQuiet two,Stuck\n",
                              mutation="backfill_items")  # fmt: skip
    assert status["counts"]["created"] == 2, status
    assert await activity(api) == before
