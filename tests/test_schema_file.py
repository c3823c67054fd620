"""schema.graphql is the SDL the server serves."""

from __future__ import annotations

from pathlib import Path

from server.api.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_file_matches_the_served_schema() -> None:
    assert SCHEMA_FILE.read_text("utf-8") == schema_sdl(), (
        "schema.graphql is stale: run `python -m server.write_schema`"
    )
