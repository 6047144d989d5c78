"""Clicks that decide (Submit, Cancel, an Action, a snooze), held from the moment they arrive
until they are handled (``Engine.hold``): stored before they are acked, decided right after
(``Listener.after``), and a bot killed before that leaves them to the next sweep of a live
process, which handles them as if they had just arrived."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, get_args

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.listening import Listener, event_of
from flows.engine import Workspace

log = logging.getLogger("lockstep.slack")

HELD_CLICK = "click"  # what ``Engine.hold`` holds a deciding click as
HELD_ATTEMPTS = 5  # a click whose handling was cut short this often is let go
Does = Literal["submit", "cancel", "snooze"]


class Replayed(inbound.ButtonClick):
    """A held click handled again after the process handling it died."""


def held_key(click: inbound.ButtonClick) -> str:
    """A click's key while held: Slack gives each click its own trigger id."""
    who = f"{click.enterprise or ''}:{click.team or ''}:{click.user}"
    return hashlib.sha256(f"{who}:{click.action}:{click.trigger_id}".encode()).hexdigest()[:32]


class HeldClicks(Listener):
    """Holding deciding clicks, for ``LockListeners`` (whose ``_work`` handles one)."""

    def _work(
        self, does: Does, client: AsyncWebClient, click: inbound.ButtonClick, pressed: int | None
    ) -> Coroutine[Any, Any, None]:
        raise NotImplementedError

    async def _decided(
        self,
        ack: AsyncAck,
        context: AsyncBoltContext,
        client: AsyncWebClient,
        does: Does,
        pressed: int | None = None,
    ) -> None:
        """A click that decides: held first (``Engine.hold``: a process killed before it is
        handled leaves it to be handled again), acked, then handled (``Listener.after``). The
        same click sent again while it is held, or in the ten minutes after it was handled
        (``HELD_KEPT``), changes nothing."""
        click = event_of(context, inbound.ButtonClick)
        key = held_key(click)
        payload = {"click": click.model_dump(mode="json"), "does": does, "pressed": pressed}
        held: str | None = key
        try:
            fresh = await self.engine.hold(key, HELD_CLICK, payload)
        except Exception as exc:  # the store is failing: the answer will likely fail, and say so
            log.warning("could not hold %s's click: %s", click.user, type(exc).__name__)
            fresh, held = True, None
        await ack()
        if fresh:
            self.after(self._handled(held, self._work(does, client, click, pressed)), client, click)

    async def _handled(self, key: str | None, work: Coroutine[Any, Any, None]) -> None:
        """``work``, then its held click let go, whatever came of it (a failure is told to the
        clicker); cancelled (shutting down), it stays held for the next process."""
        if key is not None:
            self.handling.add(key)
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            await self._let_go(key)
            raise
        await self._let_go(key)

    async def _let_go(self, key: str | None) -> None:
        if key is None:
            return
        self.handling.discard(key)
        try:
            await self.engine.let_go(key)
        except Exception as exc:  # handled again later, quietly: what it did is done
            log.warning("could not let go of a handled click: %s", type(exc).__name__)

    async def handle_held(
        self, client_of: Callable[[Workspace], Awaitable[AsyncWebClient | None]]
    ) -> int:
        """Handle the clicks held by a process that died handling them (or by this one, before
        a restart), as if they had just arrived, telling nobody privately what came of them
        (the thread shows it; only a click Slack cannot say now who may make is told to try
        again); returns how many."""
        handled = 0
        for held in await self.engine.held():
            if held.kind != HELD_CLICK or held.key in self.handling:
                continue
            if held.attempts > HELD_ATTEMPTS:  # each process handling it died: never again
                log.warning("let go of a click whose handling was cut short %d times",
                            held.attempts - 1)  # fmt: skip
                await self._let_go(held.key)
                continue
            try:
                click = Replayed.model_validate(held.payload["click"])
                does, pressed = held.payload["does"], held.payload.get("pressed")
                if does not in get_args(Does) or not isinstance(pressed, int | None):
                    raise ValueError(does)
            except (ValueError, TypeError, KeyError):
                log.warning("let go of a held click that cannot be read")
                await self._let_go(held.key)
                continue
            client = await client_of(self.of(click))
            if client is None:  # the workspace is gone
                await self._let_go(held.key)
                continue
            log.info("handling %s's click again (its process stopped)", click.user)
            self.handling.add(held.key)
            self._started(self._handled(held.key, self._work(does, client, click, pressed)),
                          client, click)  # fmt: skip
            handled += 1
        return handled
