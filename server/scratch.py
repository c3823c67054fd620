"""Scratch folders in the system's temporary folder: where a job keeps its downloaded upload
(up to 150 MB) and the parsing worker's chunk files while it runs, and an export its CSV
until it is uploaded.

A folder is removed when its job's work ends, but not when the process is killed (out of
memory, SIGKILL, a crash). Its name holds the process id, so a server starting later removes
the folders of processes that are gone (`sweep`), and never those of a live one, such as a
second server process on the same machine.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

KINDS = ("import", "blue-import", "blue-count", "export")  # what the folders hold
_NAME = re.compile(rf"(?:{'|'.join(map(re.escape, KINDS))})-(\d+)-")


def folder(kind: str) -> tempfile.TemporaryDirectory[str]:
    """A new scratch folder for `kind` (one of KINDS), removed when the context ends."""
    if kind not in KINDS:
        raise ValueError(f"unknown scratch kind {kind!r}")
    return tempfile.TemporaryDirectory(prefix=f"{kind}-{os.getpid()}-")


def sweep(root: Path | None = None) -> int:
    """Remove the scratch folders of processes that are gone; return how many."""
    root = Path(tempfile.gettempdir()) if root is None else root
    removed = 0
    for path in root.iterdir():
        found = _NAME.match(path.name)
        try:
            if found is None or not path.is_dir() or psutil.pid_exists(int(found[1])):
                continue
        except OSError:  # a folder another user owns, gone meanwhile: not ours to sweep
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    if removed:
        logger.info("removed scratch folders of ended processes", extra={"count": removed})
    return removed
