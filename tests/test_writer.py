"""The chunk writer's merge of values documents, through a real import."""

from __future__ import annotations

from tests.conftest import Api
from tests.importing import board_items, run_import

UPSERT_ON_EMAIL = {"behaviour": "UPSERT", "match_column_id": "email"}


async def test_rows_updating_one_item_apply_in_file_order(api: Api) -> None:
    body = (
        "name,email,status,text,numeric\n"
        "First name,old@acme.example.com,<NULL>,first,5\n"
        "Last name,old@acme.example.com,Stuck,second,<NULL>\n"
        "Last name,old@acme.example.com,<NULL>,,\n"
    )
    status = await run_import(api, body, on_match=UPSERT_ON_EMAIL)
    assert status["counts"]["updated"] == 3 and status["counts"]["failed"] == 0, status
    items = await board_items(api)
    assert items["Last name"]["id"] == "1000"
    # the fixture's own values stay; each row's values and clears land in file order
    assert items["Last name"]["values"] == {
        "email": "old@acme.example.com",
        "people": "Ada Admin",
        "text": "second",
    }


async def test_update_merges_into_the_stored_document(api: Api) -> None:
    body = "name,email,numeric\nExisting lead,old@acme.example.com,7\n"
    status = await run_import(api, body, on_match=UPSERT_ON_EMAIL)
    assert status["counts"]["updated"] == 1, status
    assert (await board_items(api))["Existing lead"]["values"] == {
        "status": "Done",
        "email": "old@acme.example.com",
        "numeric": "7",
        "people": "Ada Admin",
    }
