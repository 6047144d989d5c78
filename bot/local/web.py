"""The local page over HTTP: the page, its live feed (Server-Sent Events), and what people do.

Mounted next to the bot's ``/slack/events`` on a loopback-only server. The page's routes answer
only requests addressed to a loopback host (no DNS rebinding) and take JSON POSTs from the same
origin only, so another site open in the browser cannot act as a pretend user.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.local.standin import ActionError, StandIn

KEEPALIVE = 15.0  # seconds between comments on an idle event stream
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _hostname(netloc: str) -> str:
    try:
        return urlsplit(f"//{netloc}").hostname or ""
    except ValueError:  # "[::1": no host at all
        return ""


def _netloc(url: str) -> str | None:
    try:
        return urlsplit(url).netloc
    except ValueError:  # "http://[::1": no URL at all
        return None


def _own(request: web.Request) -> bool:
    return request.path == "/" or request.path.startswith("/local/")


@web.middleware
async def loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _own(request):
        return await handler(request)
    if _hostname(request.host) not in LOOPBACK:
        return web.Response(status=403, text="this page answers on loopback only")
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin is not None and _netloc(origin) != request.host:
            return web.Response(status=403, text="cross-origin request refused")
        if request.content_type != "application/json":
            return web.Response(status=415, text="JSON only")
    return await handler(request)


class LocalPage:
    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.html = resources.files("bot.local").joinpath("static/index.html").read_bytes()

    def attach(self, app: web.Application) -> None:
        app.middlewares.append(loopback_only)
        app.router.add_get("/", self.page)
        app.router.add_get("/local/state", self.state)
        app.router.add_get("/local/events", self.events)
        app.router.add_post("/local/command", self.command)
        app.router.add_post("/local/action", self.action)
        app.router.add_post("/local/submit", self.submit)
        app.router.add_post("/local/close", self.close)
        app.router.add_post("/local/home", self.home)
        app.router.add_post("/local/view-action", self.view_action)
        app.router.add_post("/local/shortcut", self.shortcut)
        app.on_shutdown.append(self._shutdown)

    async def _shutdown(self, _app: web.Application) -> None:
        await self.standin.close()  # ends the event streams, which would hold shutdown up

    async def page(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.html, content_type="text/html", headers=PAGE_HEADERS)

    async def state(self, request: web.Request) -> web.Response:
        try:
            found = self.standin.snapshot(request.query.get("user", ""))
        except ActionError as exc:
            return _refused(exc)
        return web.json_response(found, dumps=_dumps)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``data: <version>`` whenever anything on the page may have changed."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        seen = -1
        with contextlib.suppress(ConnectionResetError):
            while not self.standin.closed:
                version = await self.standin.wait_changed(seen, KEEPALIVE)
                line = f"data: {version}\n\n" if version != seen else ": idle\n\n"
                await response.write(line.encode())
                seen = version
        return response

    async def command(self, request: web.Request) -> web.Response:
        body = await _body(request)
        return await _done(self.standin.command(_str(body, "user"), _str(body, "text")))

    async def action(self, request: web.Request) -> web.Response:
        body = await _body(request)
        done = self.standin.click(
            _str(body, "user"),
            channel=_str(body, "channel"),
            ts=_str(body, "ts"),
            block_id=_str(body, "block_id"),
            action_id=_str(body, "action_id"),
            values=_values(body),
            value=_opt_str(body, "value"),
        )
        return await _done(done)

    async def home(self, request: web.Request) -> web.Response:
        body = await _body(request)
        return await _done(self.standin.home_opened(_str(body, "user")))

    async def view_action(self, request: web.Request) -> web.Response:
        body = await _body(request)
        done = self.standin.click_view(
            _str(body, "user"),
            view_id=_str(body, "view_id"),
            block_id=_str(body, "block_id"),
            action_id=_str(body, "action_id"),
            value=_opt_str(body, "value"),
        )
        return await _done(done)

    async def shortcut(self, request: web.Request) -> web.Response:
        body = await _body(request)
        return await _done(self.standin.shortcut(_str(body, "user"), _str(body, "callback_id")))

    async def submit(self, request: web.Request) -> web.Response:
        body = await _body(request)
        done = self.standin.submit(_str(body, "user"), _str(body, "view_id"), _values(body))
        return await _done(done)

    async def close(self, request: web.Request) -> web.Response:
        body = await _body(request)
        return await _done(self.standin.close_modal(_str(body, "user"), _str(body, "view_id")))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _refused(exc: Exception) -> web.Response:
    return web.json_response({"ok": False, "error": str(exc)}, status=400)


async def _done(work: Awaitable[None]) -> web.Response:
    try:
        await work
    except ActionError as exc:
        return _refused(exc)
    return web.json_response({"ok": True})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, RecursionError, LookupError):  # too deep; a charset there is not
        raise web.HTTPBadRequest(text="body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body is not an object")
    return body


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise web.HTTPBadRequest(text=f"{key} is missing")
    return _utf8(value, key)


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise web.HTTPBadRequest(text=f"{key} must be text")
    return value if value is None else _utf8(value, key)


def _utf8(value: str, key: str) -> str:
    """``value``, if UTF-8 can carry it (JSON's ``\\ud800`` is a lone surrogate it cannot)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise web.HTTPBadRequest(text=f"{key} is not text") from None
    return value


def _values(body: dict[str, Any]) -> dict[str, Any]:
    values = body.get("values", {})
    if not isinstance(values, dict):
        raise web.HTTPBadRequest(text="values must be an object")
    return values
