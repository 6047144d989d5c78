"""Who is calling the API: bearer tokens, their scopes, and the principal they make.

A token reads ``lst_<id>_<secret>``. Only the SHA-256 of its secret is stored (with ``id``, its
public part, to find it); the secret is shown once, when the token is made, and compared in
constant time. A token acts as ``api:<name>``: that is the actor the engine and the audit trail
record, and the name Slack shows. Scopes say which flows it may start and read, and on whose
behalf (Slack users, user groups, ``channel``) it may answer: ``TokenDirectory`` tells the
engine's access checks that a token stands for those people, so approvers and four-eyes apply
to it as they do to them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flows.engine import SINGLE, ApiToken, Directory, Workspace

PREFIX = "lst"
ACTOR = "api:"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,100}})$")
_DUMMY = hashlib.sha256(b"no such token").hexdigest()
ANY = "*"


class Scopes(BaseModel):
    """What a token may do. ``start`` and ``read``: flow names, or ``*`` for every flow (a flow
    it may start it may also read). ``answer``: whom it answers for: Slack user ids (``U…``),
    user groups (``S…``), ``channel`` (anyone in the run's channel) or ``*``; empty: it
    answers nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    start: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    answer: tuple[str, ...] = Field(default=())

    @field_validator("answer")
    @classmethod
    def _people(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for who in value:
            if who not in (ANY, "channel") and who[:1] not in ("U", "W", "S"):
                raise ValueError(f"{who!r} is not a Slack user id, a user group, channel or *")
        return value

    def starts(self, flow: str) -> bool:
        return ANY in self.start or flow in self.start

    def reads(self, flow: str) -> bool:
        return ANY in self.read or flow in self.read or self.starts(flow)

    @property
    def readable(self) -> tuple[str, ...] | None:
        """The flows whose runs it may read (None: every flow's)."""
        if ANY in self.read or ANY in self.start:
            return None
        return tuple(sorted({*self.read, *self.start}))

    @property
    def answers(self) -> bool:
        return bool(self.answer)


@dataclass(frozen=True)
class Principal:
    """The caller of one request: its token's name and scopes, and the workspace it belongs
    to (it reaches nothing of another)."""

    name: str
    scopes: Scopes
    workspace: Workspace = SINGLE
    token_id: str = ""  # the public part of its token: still live? (a long stream asks)

    @property
    def actor(self) -> str:
        return actor_of(self.name)


def actor_of(name: str) -> str:
    return f"{ACTOR}{name}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(
    name: str, scopes: Scopes, now: float, workspace: Workspace = SINGLE
) -> tuple[str, dict[str, Any]]:
    """A fresh token (shown once) and the row that stores it (without its secret), for
    ``workspace`` (a single-token bot's: ``SINGLE``)."""
    if not NAME.match(name):
        raise ValueError(
            "a token's name is 1 to 40 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    row = {
        "id": token_id, "name": name, "secret_hash": hash_secret(secret),
        "scopes": scopes.model_dump(mode="json"), "created_at": now, "revoked_at": None,
        **workspace.model_dump(),
    }  # fmt: skip
    return f"{PREFIX}_{token_id}_{secret}", row


class Tokens(Protocol):
    """Where tokens live (``store.SQLStore`` has these)."""

    async def token(self, token_id: str) -> ApiToken | None: ...

    async def token_named(self, name: str) -> ApiToken | None: ...

    async def any_token(self) -> bool: ...


async def authenticate(tokens: Tokens, header: str | None) -> Principal | None:
    """The principal an ``Authorization: Bearer …`` header names, or None. The secret's hash is
    compared in constant time, and a token that does not exist costs the same comparison."""
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "bearer":  # the scheme's name is case-insensitive (RFC 7235)
        return None
    found = _TOKEN.match(credentials.strip())
    if found is None:
        return None
    token_id, secret = found.groups()
    token = await tokens.token(token_id)
    expected = token.secret_hash if token is not None else _DUMMY
    if not hmac.compare_digest(hash_secret(secret), expected) or token is None:
        return None
    return Principal(
        token.name, Scopes.model_validate(token.scopes), token.workspace, token_id=token.id
    )


class TokenDirectory:
    """The engine's ``Directory``: Slack's for people, and for a token (``api:<name>``) the
    people its ``answer`` scope names. A token is in a user's, group's or channel's "group" when
    it answers for them, or for someone in them."""

    def __init__(
        self, people: Directory, token_named: Callable[[str], Awaitable[ApiToken | None]]
    ) -> None:
        self.people = people
        self.token_named = token_named

    async def includes(self, principal: str, user: str, context: Mapping[str, Any]) -> bool:
        if not user.startswith(ACTOR):
            return await self.people.includes(principal, user, context)
        if principal.startswith(ACTOR):
            return False  # a token stands for people, never for another token
        token = await self.token_named(user.removeprefix(ACTOR))
        if token is None:
            return False  # revoked meanwhile
        answer = Scopes.model_validate(token.scopes).answer
        if ANY in answer or principal in answer:
            return True
        for name in answer:
            if name[:1] in ("U", "W"):  # a person it answers for is in ``principal``
                if await self.people.includes(principal, name, context):
                    return True
            elif principal[:1] in ("U", "W"):  # ``principal`` is among those it answers for
                if await self.people.includes(name, principal, context):
                    return True
            elif "channel" in (name, principal) and (group := _group(name, principal)):
                if await self.people.sees(group, context):  # a member of it is in the channel
                    return True
        return False

    async def person(self, user: str, context: Mapping[str, Any]) -> str:
        """A token answering for exactly one person is that person when a quorum counts
        different people (they approving in Slack and it over the API are one approval); any
        other token is one voter of its own."""
        if not user.startswith(ACTOR):
            return await self.people.person(user, context)
        token = await self.token_named(user.removeprefix(ACTOR))
        answer = Scopes.model_validate(token.scopes).answer if token is not None else ()
        return answer[0] if len(answer) == 1 and answer[0][:1] in ("U", "W") else user

    async def sees(self, user: str, context: Mapping[str, Any]) -> bool:
        """A token sees a run when it answers for anyone (``*``), for its channel, or for
        someone who sees it (a person, or a user group with a member who does). A run shown in
        no channel is seen over the API only: by every token that answers for someone."""
        if not user.startswith(ACTOR):
            return await self.people.sees(user, context)
        token = await self.token_named(user.removeprefix(ACTOR))
        if token is None:
            return False
        answer = Scopes.model_validate(token.scopes).answer
        if ANY in answer or "channel" in answer:
            return True
        if not isinstance(context.get("channel"), str):
            return bool(answer)
        for name in answer:
            if name[:1] in ("U", "W", "S") and await self.people.sees(name, context):
                return True
        return False


def _group(*names: str) -> str:
    """The user group (``S…``) among ``names``; "" if none is one."""
    return next((n for n in names if n[:1] == "S"), "")
