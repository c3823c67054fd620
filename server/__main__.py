"""`python -m server`: run the server (CONTRACT §1)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from server.app import create_app
from server.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    settings = load_settings(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main(sys.argv[1:])
