"""The CLI's commands on the database itself (``DATABASE_URL``, as the bot reads it): API
tokens and webhook subscriptions. A token's secret is printed once, when it is made, and
never stored; a webhook's signing secret is printed when it is added."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from bot.api import Scopes, new_token
from bot.cli.remote import CliError
from bot.loading import open_store
from flows.engine import SINGLE, WEBHOOK_EVENTS, Workspace


def _listed(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for raw in values or () for v in raw.split(",") if v.strip())


async def token_create(
    url: str | None,
    name: str,
    start: list[str],
    read: list[str],
    answer: list[str],
    workspace: Workspace = SINGLE,
) -> str:
    """``workspace``: with installs to many workspaces, the one the token acts in (it reaches
    no other's runs); a single-token bot's is ``SINGLE``."""
    try:
        scopes = Scopes(start=_listed(start), read=_listed(read), answer=_listed(answer))
        token, row = new_token(name, scopes, time.time(), workspace)
    except ValueError as exc:
        raise CliError(str(exc).splitlines()[-1].strip()) from None
    store = await open_store(url)
    try:
        if await store.create_token(row) is None:
            raise CliError(f"a token called {name!r} exists: revoke it first")
    finally:
        await store.close()
    return token


async def token_list(url: str | None, revoked: bool) -> list[dict[str, Any]]:
    store = await open_store(url)
    try:
        found = await store.tokens(revoked=revoked)
    finally:
        await store.close()
    return [
        {
            "name": t.name,
            "id": t.id,
            "scopes": t.scopes,
            "created_at": t.created_at,
            "revoked_at": t.revoked_at,
            "team": t.team_id,
        }
        for t in found
    ]


async def token_revoke(url: str | None, name: str) -> None:
    store = await open_store(url)
    try:
        if not await store.revoke_token(name, time.time()):
            raise CliError(f"there is no live token called {name!r}")
    finally:
        await store.close()


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def webhook_add(
    url: str | None, target: str, events: list[str], secret: str | None
) -> tuple[int, str]:
    if not target.startswith(("http://", "https://")):
        raise CliError(f"{target!r} is not an http(s) URL")
    chosen = list(_listed(events)) or list(WEBHOOK_EVENTS)
    if unknown := [e for e in chosen if e not in WEBHOOK_EVENTS]:
        raise CliError(f"no event {unknown[0]!r}; events: {', '.join(WEBHOOK_EVENTS)}")
    secret = secret or new_secret()
    try:
        base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise CliError("a secret is whsec_ and base64") from None
    store = await open_store(url)
    try:
        sid = await store.add_webhook(target, secret, chosen, time.time())
    finally:
        await store.close()
    return sid, secret


async def webhook_list(url: str | None) -> list[dict[str, Any]]:
    store = await open_store(url)
    try:
        found = await store.webhooks()
    finally:
        await store.close()
    return [{"id": w.id, "url": w.url, "events": w.events} for w in found]


async def webhook_remove(url: str | None, subscription: int) -> None:
    store = await open_store(url)
    try:
        if not await store.remove_webhook(subscription, time.time()):
            raise CliError(f"there is no webhook {subscription}")
    finally:
        await store.close()
