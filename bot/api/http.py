"""The API's HTTP edges (aiohttp): bearer authentication around each handler, bodies read
into models, answers written from models, refusals as ``Problem``s, page cursors."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.api.auth import Principal, Tokens, authenticate
from bot.api.models import Invalid, Problem
from bot.logs import Refusals
from flows.engine import NoAnswer

log = logging.getLogger("lockstep.api")
LOGGED = frozenset({400, 401, 403, 429})  # refusals a log line tells of (one a minute a kind)
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]
Plain = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """A request that changes nothing: answered with ``problem`` (or ``body``) and ``status``."""

    def __init__(
        self, status: int, problem: BaseModel, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.problem = problem
        self.headers = headers or {}


def named_nothing(name: str) -> bool:
    """A name no run or lock can have: with a NUL character (Postgres cannot even look it up)."""
    return "\x00" in name


def refuse(status: int, error: str, message: str, **headers: str) -> Refused:
    return Refused(status, Problem(error=error, message=message), headers)


def reply(
    model: BaseModel | list[Any] | dict[str, Any], status: int = 200, **headers: str
) -> web.Response:
    """``model`` as JSON (``None`` fields kept: the document says they may be null)."""
    if isinstance(model, BaseModel):
        text = model.model_dump_json()
    else:
        text = json.dumps(model)
    return web.Response(
        text=text, status=status, content_type="application/json", headers=headers or None
    )


async def body(request: web.Request) -> bytes:
    """The request's body; a body larger than the server takes is a 400, said as JSON."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise refuse(400, "bad_request", "body: larger than this server takes") from None


async def read(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as ``model``: 400 if it is not JSON or not that shape."""
    raw = await body(request)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise refuse(400, "bad_request", f"{where}: {first['msg']}") from None


def invalid(errors: dict[str, list[str]]) -> Refused:
    fields = [k for k in errors if k != "_global_" and errors[k]]
    message = (
        f"fix the fields: {', '.join(fields)}" if fields else "; ".join(errors.get("_global_", []))
    )
    return Refused(422, Invalid(message=message or "the inputs were refused", errors=errors))


def guarded(tokens: Tokens, handler: Handler, refusals: Refusals | None = None) -> Plain:
    """Authenticate, then run ``handler`` with the caller. No token at all configured: the API
    is not served (404). A missing, malformed, unknown or revoked token: 401. The token itself
    is never logged. A refusal that may be tampering (400, 401, 403, 429) is a line of
    ``refusals``, one a minute of each kind."""
    said = refusals or Refusals(log)

    async def guard(request: web.Request) -> web.StreamResponse:
        who = await authenticate(tokens, _authorization(request))
        if who is None:
            if not await tokens.any_token():
                raise web.HTTPNotFound()
            said.warning("refused an API request: unauthorized (no valid token)")
            problem = Problem(error="unauthorized", message="send a valid API token: Bearer lst_…")
            answer = reply(problem, 401)
            answer.headers["WWW-Authenticate"] = 'Bearer realm="lockstep"'
            return answer
        try:
            return await handler(request, who)
        except Refused as exc:
            if exc.status in LOGGED and isinstance(exc.problem, Problem):
                said.warning(f"refused an API request: {exc.problem.error} ({exc.status})")
            return reply(exc.problem, exc.status, **exc.headers)
        except NoAnswer:  # who may do it is unknown for now: nothing was done
            problem = Problem(error="unavailable", message="Slack did not answer in time; retry")
            return reply(problem, 503, **{"Retry-After": "5"})

    return guard


def _authorization(request: web.Request) -> str | None:
    """``Authorization: Bearer …``, or the token as kodosumi's clients send their API key
    (``KODOSUMI_API_KEY: …``) when no ``Authorization`` is sent."""
    header = request.headers.get("Authorization")
    key = request.headers.get("KODOSUMI_API_KEY")
    return f"Bearer {key}" if header is None and key else header


def served(tokens: Tokens, handler: Plain) -> Plain:
    """A route without authentication (the OpenAPI document), still only while tokens exist."""

    async def serve(request: web.Request) -> web.StreamResponse:
        if not await tokens.any_token():
            raise web.HTTPNotFound()
        return await handler(request)

    return serve


def cursor(at: float, run_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at, run_id]).encode()).decode().rstrip("=")


def uncursor(text: str) -> tuple[float, str]:
    try:
        at, run_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(run_id, str) or named_nothing(run_id):
            raise ValueError("not a run id")
        run_id.encode()  # a lone surrogate is no run's id
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise ValueError("not a time")  # NaN, Infinity, true or "1": no page's end
        return float(at), run_id
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error):
        raise refuse(400, "bad_request", "after: not a cursor this API gave") from None
