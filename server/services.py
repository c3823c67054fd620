"""The long-lived parts of one server process, built at start and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.clock import Clock
from server.db import Pool
from server.events import EventBus
from server.imports.worker import ParsePool
from server.looplag import LoopLag
from server.settings import Settings
from server.storage import Storage
from server.store.accounts import AccountStore
from server.store.boards import BoardStore
from server.store.jobs import JobStore


@dataclass(kw_only=True)
class Services:
    settings: Settings
    pool: Pool
    storage: Storage
    clock: Clock
    accounts: AccountStore
    boards: BoardStore
    jobs: JobStore
    events: EventBus
    parsing: ParsePool = field(default_factory=ParsePool)
    # more worker processes, sharing the validation of create-only files with `parsing`
    parse_helpers: list[ParsePool] = field(default_factory=list)
    loop_lag: LoopLag = field(default_factory=LoopLag)

    @property
    def parse_pools(self) -> list[ParsePool]:
        return [self.parsing, *self.parse_helpers]
