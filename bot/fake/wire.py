"""The fake Slack's wire protocol: how a Web API request reads (query, JSON or form body,
bearer token or ``token`` field), how it is recorded, and Slack's error answers."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from flows.errors import LockstepError

Args = dict[str, Any]
JSON_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "files"})
CONTENT = ("text", "blocks", "attachments", "metadata")


@dataclass(frozen=True, kw_only=True)
class RecordedCall:
    """One request as the fake received it; failed attempts are recorded too.

    ``args`` are the decoded parameters (query, then JSON or form body; JSON-valued form fields
    such as ``blocks`` and ``view`` decoded), without the token. ``response`` is the JSON sent
    back with HTTP ``status``.
    """

    method: str
    args: Args
    token: str | None
    status: int
    response: Args

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.response.get("ok") is True


class Refused(LockstepError):
    """A Slack API error; its one argument is the error code."""


def slack_error(code: str) -> Args:
    return {"ok": False, "error": code}


def need(args: Args, name: str, error: str) -> str:
    if not args.get(name):
        raise Refused(error)
    return str(args[name])


def content_of(args: Args) -> Args:
    """The message fields of a request; one of text, blocks or attachments is required."""
    if not any(args.get(k) for k in ("text", "blocks", "attachments")):
        raise Refused("no_text")
    return {k: args[k] for k in CONTENT if k in args}


async def read_request(request: web.Request) -> tuple[Args, str | None]:
    """Query, then JSON or form body, as one dict; JSON-valued form fields decoded."""
    args: Args = dict(request.query)
    if request.content_type == "application/json":
        body = json.loads(await request.text() or "{}")
        if not isinstance(body, dict):
            raise ValueError("JSON body is not an object")
        args |= body
    elif request.can_read_body:
        for key, value in (await request.post()).items():
            args[key] = value if isinstance(value, str) else getattr(value, "filename", "")
    for key in JSON_FIELDS & args.keys():
        if isinstance(args[key], str):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                pass
    param = args.pop("token", None)
    header = request.headers.get("Authorization", "")
    args |= basic_auth(header)  # oauth.v2.access: the app's credentials
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else param
    return args, None if token is None else str(token)


def basic_auth(header: str) -> Args:
    """``client_id`` and ``client_secret`` from an HTTP Basic ``Authorization`` header."""
    if not header.startswith("Basic "):
        return {}
    try:
        decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
    except ValueError:
        return {}
    client_id, _, secret = decoded.partition(":")
    return {"client_id": client_id, "client_secret": secret}
