"""`python -m server`: run the server (CONTRACT §1)."""

from __future__ import annotations

import gc
import logging
import sys

import uvicorn

from server.app import create_app
from server.settings import load_settings

# An import allocates millions of short-lived objects: collecting the young generation every
# 700 allocations (Python's default) cost about a third of parsing time in the benchmark.
GC_THRESHOLDS = (50_000, 20, 20)  # allocations, then collections of the younger generation


def main(argv: list[str] | None = None) -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    settings = load_settings(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main(sys.argv[1:])
