"""What the settings name, opened: the flows (``LOCKSTEP_FLOWS``) and the store
(``DATABASE_URL``). Each failure is one ``SettingsError`` line naming the setting, never a
traceback."""

from __future__ import annotations

import importlib

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import SettingsError
from flows import FlowApp
from flows.app import Registry
from flows.errors import FlowConfigError
from store import SQLStore, connect
from store.database import DEFAULT_URL, BadDatabaseURL, UnknownRevision, migrate


def load_flows(modules: list[str]) -> Registry:
    """The flows of ``modules``; a module that fails to load, whatever it raises, or flows
    that do not fit together, are one ``SettingsError`` line naming the module."""
    apps = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except (Exception, SystemExit) as exc:
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise SettingsError(f"LOCKSTEP_FLOWS: cannot import {name}: {why}") from None
        found = [v for v in vars(module).values() if isinstance(v, FlowApp)]
        if not found:
            raise SettingsError(f"LOCKSTEP_FLOWS: {name} defines no FlowApp or ServeAPI")
        apps.extend(found)
    try:
        return Registry(apps)
    except FlowConfigError as exc:
        raise SettingsError(f"LOCKSTEP_FLOWS: {exc}") from None


async def open_store(url: str | None) -> SQLStore:
    """The store at ``DATABASE_URL``, or ``SettingsError``: one line naming the setting, the
    database (password hidden) and why, never a traceback."""
    try:
        return await SQLStore.open(url)
    except BadDatabaseURL as exc:
        raise SettingsError(str(exc)) from None
    except UnknownRevision as exc:
        raise SettingsError(f"DATABASE_URL: {exc}") from None
    except (OSError, SQLAlchemyError) as exc:
        raise _cannot("open", url, exc) from None


def _cannot(what: str, url: str | None, exc: Exception) -> SettingsError:
    where = make_url(url).render_as_string(hide_password=True) if url else DEFAULT_URL
    cause = getattr(exc, "orig", None) or exc
    reason = " ".join(str(cause).split()) or type(cause).__name__
    return SettingsError(f"DATABASE_URL: cannot {what} {where}: {reason}")


async def migrate_store(url: str | None, target: str = "head") -> tuple[str | None, str | None]:
    """``python -m bot migrate [revision]``: move the store's schema to ``target`` (up or
    down) and nothing else; returns the revisions before and after, or ``SettingsError``."""
    try:
        db = connect(url)
    except BadDatabaseURL as exc:
        raise SettingsError(str(exc)) from None
    try:
        return await migrate(db, target)
    except (OSError, SQLAlchemyError) as exc:
        raise _cannot("migrate", url, exc) from None
    except UnknownRevision as exc:
        raise SettingsError(f"migrate {target}: {exc}") from None
    finally:
        if isinstance(db, AsyncEngine):
            await db.dispose()
        else:
            db.dispose()
