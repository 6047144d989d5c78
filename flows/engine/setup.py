"""What running executions needs (``Setup``: the ports, the flows, this process's identity;
``EngineConfig``: the times a deployment may set), the ids and timer rows the runtime makes,
and a run's view of the surface's files (``InThread``)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flows.app import Registry
from flows.engine.observers import NullObserver
from flows.engine.ports import Clock, Observer, Store
from flows.engine.records import Claim, Claimed, Execution, Take
from flows.files import FileStore
from flows.policy import DEFAULT_TIMEOUT


@dataclass(frozen=True)
class EngineConfig:
    """``takeover``: seconds after which a dead process's runs and deliveries are taken over
    by another (or by the same, restarted); heartbeats and lease renewals run often enough
    that a live process never loses them."""

    default_timeout: float = DEFAULT_TIMEOUT
    takeover: float = 8.0

    @property
    def claim_ttl(self) -> float:
        return self.takeover

    @property
    def heartbeat_interval(self) -> float:
        return self.takeover / 4


def new_id() -> str:
    return uuid.uuid4().hex


def timer_row(
    execution_id: str, call_id: str, kind: str, due_at: float, payload: Any = None
) -> dict[str, Any]:
    """A new pending timer, as the store inserts it."""
    return {
        "execution_id": execution_id, "call_id": call_id, "kind": kind, "due_at": due_at,
        "status": "pending", "attempts": 0, "fired_at": None, "payload": payload,
    }  # fmt: skip


@dataclass(frozen=True)
class Setup:
    """What running executions needs: the ports, the flows, and this process's identity."""

    store: Store
    clock: Clock
    registry: Registry
    soon: Callable[[str], None]  # the run's state changed: show it
    owner: str
    default_timeout: float
    heartbeat_interval: float
    claim_ttl: float
    files: FileStore | None = None
    observer: Observer = field(default_factory=NullObserver)
    shown: Callable[[str], Awaitable[None]] | None = None  # show the run's rows now, and wait
    # what a change claims for this process's deliverer (None: nothing), and where the rows
    # claimed go (None: it claimed none): a run parks with its rows on their way, in one
    # transaction
    taking: Callable[[str], Take | None] = lambda _: None
    taken: Callable[[str, Claimed | None], None] = lambda _, __: None

    def claim(self) -> Claim:
        now = self.clock.now()
        return Claim(self.owner, now, now - self.claim_ttl)


class InThread:
    """The surface's file store, told where the run's message is when a file is shared (shown
    first, if it is not yet: a file goes into the thread)."""

    def __init__(self, files: FileStore, setup: Setup, execution: Execution) -> None:
        self.inner, self.setup, self.execution_id = files, setup, execution.id
        self.workspace = execution.workspace  # whose files these are, and whose thread

    async def read(self, file: Mapping[str, Any]) -> bytes:
        return await self.inner.read({**file, "workspace": self.workspace})

    async def write(self, context: Mapping[str, Any], name: str, content: bytes) -> dict[str, Any]:
        if self.setup.shown is not None:
            await self.setup.shown(self.execution_id)
        thread = await self.setup.store.run_shown_at(self.execution_id)
        where = {**context, "thread": thread, "workspace": self.workspace}
        return await self.inner.write(where, name, content)
