"""A webhook receiver for tests, on a loopback port: records every delivery, answers as told
(up, or down with a status and a ``Retry-After``), and checks signatures the Standard Webhooks
way with the ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks.webhooks import Webhook


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    down: int | None = None  # answer this status (None: 200)
    retry_after: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    async def receive(self, request: web.Request) -> web.Response:
        status = self.down or 200
        self.deliveries.append(Delivery(dict(request.headers), await request.read(), status))
        self.changed.set()
        headers = {"Retry-After": self.retry_after} if self.down and self.retry_after else None
        return web.Response(status=status, headers=headers)

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/hook", self.receive)
        self.server = TestServer(app, host="127.0.0.1", port=port)
        await self.server.start_server()
        return str(self.server.make_url("/hook"))

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def accepted(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status == 200]

    async def wait_for(self, types: set[str], timeout: float = 10.0) -> None:
        """Until every event of ``types`` was accepted."""

        async def until() -> None:
            while not types <= {d.event["type"] for d in self.accepted}:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), timeout)


def verified(secret: str, delivery: Delivery) -> dict[str, Any]:
    """The body, if its signature verifies (else ``WebhookVerificationError``)."""
    return dict(Webhook(secret).verify(delivery.body, delivery.headers))
