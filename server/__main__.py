"""`python -m server`: run the server (CONTRACT §1)."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any

import uvicorn

from server import fixtures
from server.api import view
from server.app import create_app
from server.imports.worker import GC_THRESHOLDS
from server.settings import load_settings

# Reports are written and Blue files counted in threads; a shorter switch interval hands the GIL back to the
# event loop sooner, so API calls keep answering while an import runs.
SWITCH_INTERVAL = 0.001  # seconds (Python's default is 0.005)


def main(argv: list[str] | None = None) -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL)
    settings = load_settings(argv)
    fixture = read_fixture(settings.fixture)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings, fixture)
    # a websocket message is held to an HTTP body's limit (uvicorn's default is 16 MiB): reading
    # and checking 14 MiB of variables held the event loop 1.3 s
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        ws_max_size=view.MAX_BODY_BYTES,
    )


def read_fixture(path: Path | None) -> dict[str, Any] | None:
    """The fixture file's document, read and checked once, for the runtime to load. A file the
    server would refuse stops the start with one line and status 2, as a usage error does,
    before PostgreSQL or S3 start (it failed the start with a traceback)."""
    if path is None:
        return None
    try:
        return fixtures.read_fixture(path)
    except fixtures.InvalidFixture as exc:
        sys.stderr.write(f"python -m server: error: --fixture/FIXTURE {path}: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main(sys.argv[1:])
