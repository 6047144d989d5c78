"""The HTTP API's transactions (see ``transactions`` for how ``SQLStore`` runs them): bearer
tokens, created and revoked from the command line, and webhook subscriptions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from flows.engine.records import ApiToken, Subscription
from store.tables import api_tokens, webhooks

_LIVE_TOKEN = api_tokens.c.revoked_at.is_(None)


def create_token(conn: Connection, row: dict[str, Any]) -> ApiToken | None:
    """Insert a token; None if a live token already has its name."""
    taken = select(api_tokens.c.id).where(api_tokens.c.name == row["name"], _LIVE_TOKEN)
    if conn.execute(taken).first() is not None:
        return None
    conn.execute(insert(api_tokens).values(**row))
    return ApiToken.model_validate(row)


def token(conn: Connection, token_id: str) -> ApiToken | None:
    """A live token by its public part."""
    row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id, _LIVE_TOKEN)).first()
    return ApiToken.model_validate(row._mapping) if row else None


def token_named(conn: Connection, name: str) -> ApiToken | None:
    """The live token called ``name``."""
    query = select(api_tokens).where(api_tokens.c.name == name, _LIVE_TOKEN)
    row = conn.execute(query).first()
    return ApiToken.model_validate(row._mapping) if row else None


def tokens(conn: Connection, revoked: bool) -> list[ApiToken]:
    query = select(api_tokens).order_by(api_tokens.c.created_at)
    if not revoked:
        query = query.where(_LIVE_TOKEN)
    return [ApiToken.model_validate(r._mapping) for r in conn.execute(query)]


def any_token(conn: Connection) -> bool:
    return conn.execute(select(api_tokens.c.id).where(_LIVE_TOKEN).limit(1)).first() is not None


def revoke_token(conn: Connection, name: str, now: float) -> bool:
    revoked = conn.execute(
        update(api_tokens).where(api_tokens.c.name == name, _LIVE_TOKEN).values(revoked_at=now)
    )
    return revoked.rowcount > 0


_LIVE_HOOK = webhooks.c.removed_at.is_(None)


def add_webhook(conn: Connection, url: str, secret: str, events: list[str], now: float) -> int:
    row = {"url": url, "secret": secret, "events": events, "created_at": now}
    return int(conn.execute(insert(webhooks).values(**row).returning(webhooks.c.id)).scalar_one())


def webhook(conn: Connection, subscription: int) -> Subscription | None:
    """A subscription, removed or not (its rows already written still name it)."""
    row = conn.execute(select(webhooks).where(webhooks.c.id == subscription)).first()
    return Subscription.model_validate(row._mapping) if row else None


def list_webhooks(conn: Connection) -> list[Subscription]:
    query = select(webhooks).where(_LIVE_HOOK).order_by(webhooks.c.id)
    return [Subscription.model_validate(r._mapping) for r in conn.execute(query)]


def remove_webhook(conn: Connection, subscription: int, now: float) -> bool:
    removed = conn.execute(
        update(webhooks).where(webhooks.c.id == subscription, _LIVE_HOOK).values(removed_at=now)
    )
    return removed.rowcount > 0
