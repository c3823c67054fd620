"""monday v2 audit findings: errors that name what the client sent, as the document words it."""

from __future__ import annotations

from tests.conftest import Api
from tests.v2 import error_of


async def test_create_item_name_errors_name_the_item_name_argument(api: Api) -> None:
    for name in ("", "x" * 256):
        error = error_of(
            await api.post(
                "mutation($n: String) { create_item(board_id: 100, item_name: $n) { id } }",
                {"n": name},
            )
        )
        assert error["code"] == "BAD_USER_INPUT"
        assert error["message"] == "item_name must be a string of 1 to 255 characters"
        assert list(error["error_data"]) == ["item_name"]
