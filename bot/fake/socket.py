"""Slack's side of Socket Mode, for the fake Slack: ``apps.connections.open`` hands out a
WebSocket URL on the fake's own port; the app connects, is greeted with ``hello``, and gets
envelopes (``slash_commands``, ``interactive``) that it acknowledges by ``envelope_id``, the
acknowledgement carrying any response payload, as on Slack."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import WSMsgType, web

Args = dict[str, Any]
PATH = "/socket-mode"


class FakeSocketMode:
    def __init__(self) -> None:
        self._sockets: list[web.WebSocketResponse] = []
        self._connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future[Args]] = {}
        self._ids = itertools.count(1)

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": len(self._sockets) + 1})
        self._sockets.append(ws)
        self._connected.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._acknowledged(json.loads(message.data))
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._connected.clear()
        return ws

    def _acknowledged(self, ack: Any) -> None:
        waiting = (
            self._acks.pop(str(ack.get("envelope_id")), None) if isinstance(ack, dict) else None
        )
        if waiting is not None and not waiting.done():
            waiting.set_result(ack.get("payload") or {})

    async def send(self, kind: str, payload: Args, timeout: float = 5) -> Args:
        """Deliver one envelope to a connected app; return the payload of its acknowledgement
        (``{}`` for a bare ack). ``TimeoutError`` if nobody is connected or nobody acks."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()
            envelope_id = f"env-{next(self._ids)}"
            acked = self._acks[envelope_id] = asyncio.get_running_loop().create_future()
            envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload}
            await self._sockets[-1].send_json(envelope | {"accepts_response_payload": True})
            answer: Args = await acked
            return answer

    async def send_text(self, text: str) -> None:
        """Send ``text`` as it is, in one frame: what Slack would never send (not JSON, say)."""
        await self._connected.wait()
        await self._sockets[-1].send_str(text)

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
