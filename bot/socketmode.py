"""Socket Mode, read as the HTTP adapter reads a request: each envelope's payload is typed
(``inbound.typed``) before Bolt sees it, and Bolt gets only the body ``inbound.for_bolt``
rebuilds, with the typed event in its context, so nothing in Bolt meets a shape Slack would not
send. A malformed payload is acknowledged (unacknowledged, Slack sends it again), logged in one
line, and changes nothing; so is an envelope slack_sdk's own client would fail on (its payload
no object, or the frame not JSON: ``TypedClient``)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot import fields, inbound, logs
from bot.directory import ARRIVED

log = logging.getLogger("lockstep")


MALFORMED = "refused a malformed Slack request: %s"


class TypedClient(SocketModeClient):
    """slack_sdk's Socket Mode client, but a frame it would fail on is a refusal: an envelope
    whose payload is no object (a list, a number, null: slack_sdk raises, logs a traceback and
    leaves the envelope unacknowledged, so it comes again) is acknowledged, and a frame that
    opens as JSON but is not is dropped; either is one line."""

    def __init__(self, app_token: str, app: AsyncApp, refusals: logs.Refusals) -> None:
        super().__init__(app_token=app_token, logger=app.logger, web_client=app.client,
                         ping_interval=10)  # fmt: skip
        self.refusals = refusals

    async def enqueue_message(self, message: str) -> None:
        if message.startswith("{"):  # slack_sdk reads only these as JSON; the rest is nothing
            try:
                json.loads(message)
            except (ValueError, RecursionError):  # nested too deep: slack_sdk's fails too
                self.refusals.warning(MALFORMED, "a frame that is not JSON")
                return
        await super().enqueue_message(message)

    async def run_message_listeners(self, message: dict[str, Any], raw_message: str) -> None:
        """(Each message's own task, as slack_sdk runs it.)"""
        payload = message.get("payload", {})
        if "envelope_id" not in message or isinstance(payload, dict | str):
            await super().run_message_listeners(message, raw_message)
            return
        self.refusals.warning(MALFORMED, "the envelope's payload is not an object")
        try:
            await self.send_socket_mode_response(SocketModeResponse(message["envelope_id"]))
        except ConnectionError:  # the connection is going: Slack sends it again, refused again
            log.info("a refused Socket Mode envelope could not be acknowledged")


class TypedSocketMode(AsyncSocketModeHandler):
    def __init__(
        self, app: AsyncApp, app_token: str, *, refusals: logs.Refusals | None = None
    ) -> None:
        """``refusals``: the bot's (``Lockstep.refusals``), so a flood of envelopes it refuses
        is one line a minute per kind, as over HTTP. Bolt's handler as its own ``__init__``
        makes it, with a ``TypedClient`` (making Bolt's client first would leave its
        connection pool and its task behind)."""
        self.refusals = refusals or logs.Refusals(log)
        self.app, self.app_token = app, app_token
        self.client = TypedClient(app_token, app, self.refusals)
        self.client.socket_mode_request_listeners.append(self.handle)

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        arrived = time.monotonic()
        try:
            event = inbound.typed(req.payload)
        except fields.Malformed as exc:
            self.refusals.warning(MALFORMED, exc)
            event = None
        if event is None or isinstance(event, inbound.OtherEvent):
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        retried: dict[str, str | Sequence[str]] = {}
        if req.retry_attempt:
            retried["x-slack-retry-num"] = str(req.retry_attempt)
        request = AsyncBoltRequest(
            body=inbound.for_bolt(event), headers=retried, mode="socket_mode",
            context={"inbound": event, ARRIVED: arrived},
        )  # fmt: skip
        answer = await self.app.async_dispatch(request)
        if answer.status != 200:  # not acknowledged: as Bolt's own handler, Slack tries again
            # (Bolt's error handler, ``bot.app._failed``, has said why, once)
            log.debug("a Socket Mode request was not handled (%d)", answer.status)
            return
        said = _payload(answer)
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=said)
        )


def _payload(answer: BoltResponse) -> dict[str, Any] | None:
    """What the acknowledgement carries: the response Bolt gave (a modal's errors, say)."""
    if not answer.body:
        return None
    kind = answer.headers.get("content-type", [""])[0]
    return json.loads(answer.body) if kind.startswith("application/json") else {"text": answer.body}
