"""What the bot adds to Bolt's own request handling: every request typed before a listener
sees it (``TypedInbound``), and Bolt's errors answered (``unhandled``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import fields, inbound, logs

log = logging.getLogger("lockstep")


def unhandled(refusals: logs.Refusals) -> Callable[..., Awaitable[None]]:
    """Bolt's error handler. A signed request no listener takes (an action, modal or shortcut
    Lockstep never made: an old message's button, a made-up id) is answered 404 and is a
    refusal, one line a minute at most, not Bolt's warning of several lines for each. Any
    other error of a listener is logged with its traceback, as Bolt would (secrets redacted)."""

    async def failed(error: Exception, request: AsyncBoltRequest) -> None:
        if isinstance(error, BoltUnhandledRequestError):
            body = request.body
            kind = "command" if "command" in body else str(body.get("type"))[:40]
            refusals.warning("refused a Slack request no listener takes: %s", kind)
            return
        log.error("handling a Slack request failed: %s", type(error).__name__, exc_info=error)

    return failed


class TypedInbound(AsyncMiddleware):
    """Bolt middleware: the body as one typed event (``context["inbound"]``), or a 400. The HTTP
    and Socket Mode adapters (``bot.socketmode``) have typed it already; a request that reaches
    Bolt another way is typed here. A class, not a function: Bolt reads
    a function middleware's arguments out of the body, which fails on exactly the malformed
    bodies this refuses."""

    def __init__(self, refusals: logs.Refusals) -> None:
        self.refusals = refusals

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        if "inbound" in req.context:
            return await next()
        try:
            event = req.context["inbound"] = inbound.typed(req.body)
        except fields.Malformed as exc:
            self.refusals.warning("refused a malformed Slack request: %s", exc)
            return BoltResponse(status=400, body="malformed payload")
        if isinstance(event, inbound.OtherEvent):
            return BoltResponse(status=200, body="")
        return await next()
