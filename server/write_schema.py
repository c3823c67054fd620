"""`python -m server.write_schema`: write the served SDL to schema.graphql (or check it with --check)."""

from __future__ import annotations

import sys
from pathlib import Path

from server.api.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def main(argv: list[str]) -> int:
    sdl = schema_sdl()
    if "--check" in argv:
        current = SCHEMA_FILE.read_text("utf-8") if SCHEMA_FILE.exists() else ""
        if current != sdl:
            print("schema.graphql is out of date: run python -m server.write_schema")
            return 1
        return 0
    SCHEMA_FILE.write_text(sdl, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
