"""Socket Mode, read as the HTTP adapter reads a request: each envelope's payload is typed
(``inbound.typed``) before Bolt sees it, and Bolt gets only the body ``inbound.for_bolt``
rebuilds, so nothing in Bolt meets a shape Slack would not send. A malformed payload is
acknowledged (unacknowledged, Slack sends it again), logged in one line, and changes nothing."""

from __future__ import annotations

import logging
import time

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot import fields, inbound

log = logging.getLogger("lockstep")
_READ = "socket_mode"  # Bolt's mode for a body it need not verify or parse again


class TypedSocketMode(AsyncSocketModeHandler):
    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        start = time.time()
        try:
            event = inbound.typed(req.payload)
        except fields.Malformed as exc:
            log.warning("refused a malformed Slack request: %s", exc)
            event = None
        if event is None or isinstance(event, inbound.OtherEvent):
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        bolt_request = AsyncBoltRequest(
            body=inbound.for_bolt(event), headers=build_headers(req), mode=_READ,
            context={"inbound": event},
        )  # fmt: skip
        await send_async_response(client, req, await self.app.async_dispatch(bolt_request), start)
