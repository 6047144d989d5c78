"""The flow registry: kodosumi's ``ServeAPI`` decorators, named ``FlowApp`` here.

Handlers are called with the arguments they name (``inputs``, ``request``, ``data``, ``tracer``),
as kodosumi does; sync and async handlers both work.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flows.errors import FlowConfigError
from flows.forms import Model
from flows.policy import check_approvers

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Request:
    """Who is starting a flow, and from where (the surface's ids, e.g. Slack channel)."""

    flow: str
    user: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Launch:
    """What an enter handler returns: start ``entry_point`` with ``inputs``."""

    request: Request
    entry_point: Callable[..., Awaitable[Any]] | str
    inputs: Mapping[str, Any] | None = None

    @property
    def runner(self) -> str:
        return entry_point_name(self.entry_point)


@dataclass(frozen=True)
class Response:
    """One person's answer to a lock: an approval with its parsed inputs, or a rejection with
    its comment. A lease handler that names ``responses`` gets every one so far, this one last
    (earlier ones as the audit trail keeps them: passwords are ``***``)."""

    user: str | None
    approved: bool
    inputs: dict[str, Any]
    comment: str | None
    at: float


def approvers(responses: Sequence[Response]) -> list[str]:
    """Who has approved, first come first, each once."""
    seen: dict[str, None] = {}
    for r in responses:
        if r.approved and r.user is not None:
            seen.setdefault(r.user)
    return list(seen)


@dataclass(frozen=True)
class EntrySpec:
    name: str
    handler: Callable[..., Any]
    model: Model | None
    summary: str
    description: str | None
    admins: tuple[str, ...] = ()  # besides the initiator, who may cancel a run or snooze its locks


def entry_point_name(entry_point: Callable[..., Any] | str, *, check: bool = True) -> str:
    """A runner is stored by name so any process can replay it; check the name resolves."""
    if isinstance(entry_point, str):
        name = entry_point
    else:
        name = f"{entry_point.__module__}:{entry_point.__qualname__}"
        if "<" in name:
            raise FlowConfigError(f"runner {name} must be a module-level function")
    if check:
        resolve(name)
    return name


def resolve(name: str) -> Callable[..., Any]:
    module, _, attr = name.partition(":")
    if not module or not attr:
        raise FlowConfigError(f"runner {name!r} must look like 'package.module:function'")
    try:
        target: Any = importlib.import_module(module)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise FlowConfigError(f"cannot load runner {name!r}: {exc}") from exc
    if not callable(target):
        raise FlowConfigError(f"runner {name!r} is not callable")
    return target  # type: ignore[no-any-return]


async def call(fn: Callable[..., Any], **available: Any) -> Any:
    """Call ``fn`` with the arguments it names out of ``available``; await it if async."""
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = available
    else:
        kwargs = {k: v for k, v in available.items() if k in params}
    result = fn(**kwargs)
    return await result if inspect.isawaitable(result) else result


def _flow_name(path: str) -> str:
    name = path.strip().strip("/")
    if not name or " " in name:
        raise FlowConfigError(f"flow path {path!r} must be a single word like '/review'")
    return name


class FlowApp:
    """Registry of flows (``enter``/``flow``), lock forms (``lock``) and leases (``lease``)."""

    def __init__(self) -> None:
        self.entries: dict[str, EntrySpec] = {}
        self.locks: dict[str, Callable[..., Any]] = {}
        self.leases: dict[str, Callable[..., Any]] = {}

    def enter(
        self,
        path: str,
        model: Model | None = None,
        summary: str | None = None,
        description: str | None = None,
        *,
        admins: Sequence[str] = (),
        **_: Any,
    ) -> Callable[[F], F]:
        """``admins``: user ids, user groups (``S…``) or ``"channel"`` who, besides whoever
        started a run, may cancel it and snooze its locks."""

        def register(fn: F) -> F:
            name = _flow_name(path)
            if name in self.entries:
                raise FlowConfigError(f"flow {name!r} is registered twice")
            try:
                people = check_approvers(admins, "admins")
            except (TypeError, ValueError) as exc:
                raise FlowConfigError(f"flow {name!r}: {exc}") from None
            self.entries[name] = EntrySpec(name, fn, model, summary or name, description, people)
            return fn

        return register

    def flow(
        self,
        name: str,
        model: Model | None = None,
        summary: str | None = None,
        description: str | None = None,
        *,
        admins: Sequence[str] = (),
    ) -> Callable[[F], F]:
        """Register ``fn`` as the runner of flow ``name``; the entry form's inputs go to it."""

        def register(fn: F) -> F:
            runner = entry_point_name(fn, check=False)  # its module is still being imported

            async def start(inputs: dict[str, Any], request: Request) -> Launch:
                return Launch(request, runner, inputs=inputs)

            self.enter(name, model, summary, description, admins=admins)(start)
            return fn

        return register

    def lock(self, name: str) -> Callable[[F], F]:
        return self._handler(self.locks, name)

    def lease(self, name: str) -> Callable[[F], F]:
        return self._handler(self.leases, name)

    @staticmethod
    def _handler(table: dict[str, Callable[..., Any]], name: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if name in table:
                raise FlowConfigError(f"handler for lock {name!r} is registered twice")
            table[name] = fn
            return fn

        return register


ServeAPI = FlowApp


class Registry:
    """Every loaded FlowApp merged: what the engine looks flows and handlers up in."""

    def __init__(self, apps: Iterable[FlowApp]) -> None:
        self.entries: dict[str, EntrySpec] = {}
        self.locks: dict[str, Callable[..., Any]] = {}
        self.leases: dict[str, Callable[..., Any]] = {}
        for app in apps:
            for target, source in (
                (self.entries, app.entries),
                (self.locks, app.locks),
                (self.leases, app.leases),
            ):
                clash = target.keys() & source.keys()
                if clash:
                    raise FlowConfigError(f"registered by two FlowApps: {', '.join(sorted(clash))}")
                target.update(source)  # type: ignore[arg-type]
        for name in sorted(self.leases.keys() - self.locks.keys()):
            warnings.warn(
                f"lease {name!r} has no @lock({name!r}) form: a flow reaching it will fail",
                stacklevel=2,
            )
