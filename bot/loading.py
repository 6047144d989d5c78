"""What the settings name, opened: the flows (``LOCKSTEP_FLOWS``) and the store
(``DATABASE_URL``). Each failure is one ``SettingsError`` line naming the setting, never a
traceback."""

from __future__ import annotations

import importlib
import inspect

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
    """The flows of ``modules``: each a module (its ``FlowApp``s, each once however many names
    it has) or, as kodosumi and uvicorn name apps, ``module:attr`` (a ``FlowApp``, or a
    function that makes one, called with no arguments). A module that fails to load, whatever
    it raises, or flows that do not fit together, are one ``SettingsError`` line naming it."""
    apps: list[FlowApp] = []
    for name in modules:
        for app in _apps(name):
            if not any(app is seen for seen in apps):  # one app listed twice, or imported
                apps.append(app)
    try:
        return Registry(apps)
    except FlowConfigError as exc:
        raise SettingsError(f"LOCKSTEP_FLOWS: {exc}") from None


def _apps(name: str) -> list[FlowApp]:
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name.strip())
        if not attr:
            found = [v for v in vars(module).values() if isinstance(v, FlowApp)]
        else:
            target = getattr(module, attr.strip())
            if not isinstance(target, FlowApp) and inspect.isfunction(target):
                if not inspect.iscoroutinefunction(target):
                    target = target()  # an app factory
            found = [target] if isinstance(target, FlowApp) else []
    except (Exception, SystemExit) as exc:
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise SettingsError(f"LOCKSTEP_FLOWS: cannot import {name}: {why}") from None
    if not found:
        what = (
            "is no FlowApp or ServeAPI (nor makes one)"
            if attr
            else "defines no FlowApp or ServeAPI"
        )
        raise SettingsError(f"LOCKSTEP_FLOWS: {name} {what}")
    return found


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
