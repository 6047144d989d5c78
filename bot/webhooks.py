"""Webhooks out: each outbox row of kind ``webhook`` is one event for one subscription, sent as
a signed HTTP POST the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` under the
subscription's secret).

The rows are written with the change they announce, in the same transaction, and the engine's
deliverer hands them here like any other row (``Routed`` sends the rest to Slack): so a receiver
that is down gets every event once it is back (retries with backoff, honouring ``Retry-After``),
and an event may arrive more than once, always under the same ``webhook-id``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from standardwebhooks.webhooks import Webhook

from bot.api.models import WebhookData, WebhookEvent
from bot.api.views import lock_summary, run_view
from flows.engine import Notifier, Show, Subscription, Trail, Unavailable
from flows.when import iso

log = logging.getLogger("lockstep.webhooks")
TIMEOUT = 10.0  # seconds a receiver has to answer
BUSY = (429, 502, 503, 504)
LEAST_WAIT = 1.0  # seconds a receiver asking to be retried (Retry-After) waits at least


class WebhookSender:
    """The ``Notifier`` for webhook rows. ``subscription`` finds a row's subscription (None or
    removed: the row is dropped, nothing sent); ``trail`` reads the run (how it ended);
    ``link`` makes a link to where the run is shown; ``clock`` (the wall clock) dates the
    signatures."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        subscription: Callable[[int], Awaitable[Subscription | None]],
        link: Callable[[str], Awaitable[str | None]],
        clock: Callable[[], float],
        trail: Callable[[str], Awaitable[Trail | None]] | None = None,
    ) -> None:
        self.session = session
        self.subscription = subscription
        self.trail = trail
        self.link = link
        self.clock = clock

    async def show(self, show: Show) -> Any:
        payload = show.payload
        sid = payload.get("subscription")
        found = await self.subscription(sid) if isinstance(sid, int) else None
        if found is None or found.removed_at is not None:
            return None
        body = (await self.event(show)).model_dump_json()
        headers = signed_headers(found.secret, show.key, self.clock(), body)
        try:
            async with self.session.post(
                found.url, data=body.encode(), headers=headers,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT), allow_redirects=False,
            ) as response:  # fmt: skip
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            # the URL may hold a secret of the receiver's: it is not logged
            raise Unavailable(f"webhook {found.id} unreachable ({type(exc).__name__})") from None
        if 200 <= status < 300:
            return {"status": status}
        after = _seconds(retry_after) if status in BUSY else None
        raise Unavailable(f"webhook {found.id} answered {status}", after)

    async def event(self, show: Show) -> WebhookEvent:
        """The body: the event, the run as ``GET /runs/{id}`` shows it, and its lock."""
        trail = await self.trail(show.run.id) if self.trail else None
        execution, calls, events = trail or (show.run, [], [])
        run = run_view(execution, calls, events, await self.link(execution.id))
        at = show.payload.get("at")
        stamp = iso(at if isinstance(at, float | int) else self.clock())
        lock = next((c for c in calls if show.lock and c.id == show.lock.id), show.lock)
        return WebhookEvent(
            type=show.payload["type"],
            timestamp=stamp or "",
            data=WebhookData(run=run, lock=lock_summary(lock) if lock else None),
        )


def signed_headers(secret: str, message_id: str, at: float, body: str) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``, signed with ``secret`` (``whsec_…``)."""
    when = datetime.fromtimestamp(int(at), UTC)
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at)),
        "webhook-signature": Webhook(secret).sign(message_id, when, body),
    }


class Routed:
    """The outbox's notifier: webhook rows to ``webhooks``, every other row to ``slack``."""

    def __init__(self, slack: Notifier, webhooks: Notifier) -> None:
        self.slack = slack
        self.webhooks = webhooks

    async def show(self, show: Show) -> Any:
        target = self.webhooks if show.kind == "webhook" else self.slack
        return await target.show(show)


def _seconds(value: str | None) -> float | None:
    """A ``Retry-After`` in seconds, at least ``LEAST_WAIT`` (a receiver asking for no wait at
    all is not retried in a tight loop); None (back off as usual) for one that is not a finite
    number of seconds, not less than zero (an HTTP date too)."""
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return max(LEAST_WAIT, seconds)
