"""The FastAPI surface of kodosumi's ``ServeAPI`` (a FastAPI app), accepted and not served.

A kodosumi service is a web app too: it may add routes of its own (a health check, a webhook),
middleware, exception handlers, start-up hooks, routers and static files, and keep settings in
``app.state``. Lockstep is not a web app (it serves its own HTTP API, kodosumi's routes
included), so each of these is said once as a warning when the app loads and otherwise left
alone: decorated functions stay as they were, hooks are not called, ``app.state`` is a plain
namespace. Only ``enter`` makes a flow.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class WebApp:
    """FastAPI's methods, as an app module calls them (any arguments)."""

    def get(self, path: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _route("GET", path)

    def post(self, path: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _route("POST", path)

    def put(self, path: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _route("PUT", path)

    def delete(self, path: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _route("DELETE", path)

    def patch(self, path: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _route("PATCH", path)

    def options(self, path: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _route("OPTIONS", path)

    def head(self, path: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _route("HEAD", path)

    def api_route(
        self, path: str, *_args: Any, methods: Sequence[str] | None = None, **_kwargs: Any
    ) -> Callable[[F], F]:
        return _route(",".join(methods or ["GET"]).upper(), path)

    def websocket(self, path: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _route("WEBSOCKET", path)

    def middleware(self, kind: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _kept(f"middleware({kind!r})", "this middleware is not used")

    def exception_handler(self, exc: Any, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _kept(f"exception_handler({_name(exc)})", "this handler is not used")

    def on_event(self, event: str, *_args: Any, **_kwargs: Any) -> Callable[[F], F]:
        return _kept(f"on_event({event!r})", "this hook is not called")

    def add_middleware(self, middleware: Any, *_args: Any, **_kwargs: Any) -> None:
        _said(f"add_middleware({_name(middleware)})", "this middleware is not used")

    def add_exception_handler(self, exc: Any, *_args: Any, **_kwargs: Any) -> None:
        _said(f"add_exception_handler({_name(exc)})", "this handler is not used")

    def add_event_handler(self, event: str, *_args: Any, **_kwargs: Any) -> None:
        _said(f"add_event_handler({event!r})", "this hook is not called")

    def include_router(self, router: Any, *_args: Any, **_kwargs: Any) -> None:
        _said(f"include_router({_name(router)})", "its routes are not served")

    def mount(self, path: str, *_args: Any, **_kwargs: Any) -> None:
        _said(f"mount({path!r})", "it is not served")

    def add_api_route(self, path: str, *_args: Any, **_kwargs: Any) -> None:
        _said(f"add_api_route({path!r})", "this route is not served")

    def add_route(self, path: str, *_args: Any, **_kwargs: Any) -> None:
        _said(f"add_route({path!r})", "this route is not served")

    def add_api_websocket_route(self, path: str, *_args: Any, **_kwargs: Any) -> None:
        _said(f"add_api_websocket_route({path!r})", "this route is not served")

    def add_websocket_route(self, path: str, *_args: Any, **_kwargs: Any) -> None:
        _said(f"add_websocket_route({path!r})", "this route is not served")


def _name(thing: Any) -> str:
    return str(getattr(thing, "__qualname__", None) or type(thing).__qualname__)


def _said(what: str, not_done: str) -> None:
    warnings.warn(
        f"{what}: Lockstep is not a web app, {not_done} (only @app.enter makes a flow)",
        stacklevel=3,
    )


def _kept(what: str, not_done: str) -> Callable[[F], F]:
    def keep(fn: F) -> F:
        _said(f"{what} ({_name(fn)})", not_done)
        return fn

    return keep


def _route(method: str, path: str) -> Callable[[F], F]:
    def keep(fn: F) -> F:
        _said(f"{method} {path} ({_name(fn)})", "this route is not served")
        return fn

    return keep
