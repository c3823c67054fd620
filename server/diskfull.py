"""A full disk, the server's (ENOSPC, or EDQUOT for an exhausted quota, writing a scratch
file), the database's (SQLSTATE class 53, insufficient resources: 53100 disk full) or the
object store's (S3 refusing a write for lack of space, `errors.StorageFull`).

Neither is the job's fault, and space often comes back (another job's scratch folder removed,
an operator freeing space), so a job that meets one is retried like an outage: left to its
lease and resumed from its last committed chunk, up to `processing.MAX_ATTEMPTS` claims. Only
then does it end FAILED (failure_reason INTERNAL_ERROR), with one of these messages.
"""

from __future__ import annotations

import errno
import os

import asyncpg

from server.errors import AppError, StorageFull

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_full(exc: BaseException) -> bool:
    """Whether `exc` says a disk (or the database's resources) ran out."""
    if isinstance(exc, OSError):
        return exc.errno in FULL_ERRNOS
    return isinstance(exc, asyncpg.InsufficientResourcesError | StorageFull)


def message(exc: BaseException, attempts: int) -> str:
    """What a job that met `exc` (`is_full`) in each of its `attempts` says it ended with."""
    tried = f"the job was tried {attempts} times; try again later"
    if isinstance(exc, asyncpg.InsufficientResourcesError):
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return (
            f"The database ran out of resources (SQLSTATE {exc.sqlstate}: {first}); "
            f"the rows written before it are kept, {tried}"
        )
    if isinstance(exc, StorageFull):
        return (
            f"The object store ran out of space ({exc.reason}); the rows written before it "
            f"are kept, {tried}"
        )
    reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else str(exc)
    return f"The server ran out of disk space for the job's temporary files ({reason}); {tried}"


def request_error(exc: OSError) -> AppError:
    """The error of a request that a full disk stopped before it started anything: HTTP 503
    (try again later), with the code of any internal error."""
    return AppError(
        f"The server ran out of disk space ({os.strerror(exc.errno or errno.ENOSPC)}); "
        "nothing was started, try again later",
        code="INTERNAL_SERVER_ERROR",
        status_code=503,
    )
