"""The flow registry: kodosumi's ``ServeAPI`` decorators (``enter``, ``lock``, ``lease``), and
``FlowApp``, Lockstep's own flavour of it.

The two differ in one thing, what enter and lease handlers are handed: a ``ServeAPI`` app's get
kodosumi's values (strings as a form submits them; see ``flows.submitted``), a ``FlowApp``'s get
typed values (numbers, dates, booleans). Both are parsed and checked on the server first.
Handlers are called with the arguments they name (``inputs``, ``request``, ``data``...), sync
or async (``flows.entry``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar, TypeVar

from flows.entry import call, entry_point_name, resolve
from flows.errors import FlowConfigError
from flows.forms import Model
from flows.policy import check_approvers
from flows.webapp import WebApp

F = TypeVar("F", bound=Callable[..., Any])
GENERIC_MODULES = frozenset({"app", "main", "__main__", "__init__"})

__all__ = ["EntrySpec", "FlowApp", "Launch", "Registry", "Request", "Response", "ServeAPI"]
__all__ += ["approvers", "call", "entry_point_name", "flow_name", "resolve"]


@dataclass(frozen=True)
class Request:
    """Who is starting a flow, and from where (the surface's ids, e.g. Slack channel; files
    uploaded with the entry form under ``files``). Lock and lease handlers that name
    ``request`` get one for the run (lease: with the person answering as ``user``)."""

    flow: str
    user: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> SimpleNamespace:
        """kodosumi's ``request.state`` (its middleware sets ``state.user``): who is asking."""
        return SimpleNamespace(user=self.user)


@dataclass(frozen=True)
class Launch:
    """What an enter handler returns: start ``entry_point`` with ``inputs``.

    ``entry_point``: a function, a crew, or a name (``"pkg.mod:runner"`` or
    ``"pkg.mod.runner"``). ``inputs``: anything recordable (a dict, a pydantic model...), handed
    to the flow as it is. ``summary``/``description`` override the entry's for this run;
    ``reference`` (kodosumi's way to find the entry of a launch) is accepted and not needed:
    the request names its flow.
    """

    request: Request
    entry_point: Any
    inputs: Any = None
    reference: Callable[..., Any] | None = None
    summary: str | None = None
    description: str | None = None

    @property
    def runner(self) -> str:
        return entry_point_name(self.entry_point)


@dataclass(frozen=True)
class Response:
    """One person's answer to a lock: an approval with its parsed inputs, or a rejection with
    its comment. A lease handler that names ``responses`` gets each person's latest so far
    (``standing``), oldest first: this one last, unless others landed while it was counted
    (earlier ones as the audit trail keeps them: passwords are ``***``)."""

    user: str | None
    approved: bool
    inputs: dict[str, Any]
    comment: str | None
    at: float


def standing(responses: Sequence[Response]) -> list[Response]:
    """The responses that count: each person's latest, oldest first (a rejection after a
    person's approval withdraws it; approving again counts again)."""
    latest: dict[str | int, Response] = {}
    for i, r in enumerate(responses):
        key = r.user if r.user is not None else i  # nobody named: each stands alone
        latest.pop(key, None)
        latest[key] = r
    return list(latest.values())


def approvers(responses: Sequence[Response]) -> list[str]:
    """Who approves (their latest response is an approval), each once."""
    return [r.user for r in standing(responses) if r.approved and r.user is not None]


@dataclass(frozen=True)
class EntrySpec:
    name: str
    handler: Callable[..., Any]
    model: Model | None
    summary: str
    description: str | None
    admins: tuple[str, ...] = ()  # besides the initiator, who may cancel a run or snooze its locks
    kodosumi: bool = False  # its handler gets kodosumi's values (a ServeAPI app)
    runner: str | None = None  # ``@app.flow``: the runner, resolved when the flows load
    meta: Mapping[str, Any] = field(default_factory=dict)  # tags, author, version...
    path: str = ""  # the URL path ``enter`` was given (kodosumi's clients launch by it)


FLOW_NAME_MAX = 200  # characters of a flow's name, as the store keeps it


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def flow_name(path: str, summary: str | None, module: str, name: str | None = None) -> str:
    """The name ``/flow start`` knows a flow by: ``name`` if given (FastAPI's route name);
    else the path without its outer slashes (``/review`` -> ``review``, ``/much/deeper`` ->
    ``much/deeper``); for ``/``, the summary as a slug (``Simple HITL Demo`` ->
    ``simple-hitl-demo``); without one, the module's last part that is not ``app`` or ``main``
    (``my_flows.hitl.app`` -> ``hitl``)."""
    found = (name or "").strip() or path.strip().strip("/")
    if not found and summary:
        found = _slug(summary)
    if not found:
        parts = [p for p in module.split(".") if p not in GENERIC_MODULES]
        found = _slug(parts[-1]) if parts else ""
    if not found or re.search(r"\s", found):
        raise FlowConfigError(
            f"cannot name the flow at path {path!r}: give it name='...' (no spaces)"
        )
    if len(found) > FLOW_NAME_MAX:  # the store keeps runs by it: Postgres refuses longer
        raise FlowConfigError(
            f"the flow at path {path[:60]!r}… is named in more than {FLOW_NAME_MAX} characters:"
            " give it a shorter name='...'"
        )
    return found


class FlowApp(WebApp):
    """Registry of flows (``enter``/``flow``), lock forms (``lock``) and leases (``lease``).
    Its handlers get typed values; ``ServeAPI``'s get kodosumi's. FastAPI's other methods
    (routes, middleware, hooks, ``state``) are accepted and not served (``flows.webapp``)."""

    kodosumi: ClassVar[bool] = False

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.entries: dict[str, EntrySpec] = {}
        self.locks: dict[str, Callable[..., Any]] = {}
        self.leases: dict[str, Callable[..., Any]] = {}
        self.state = SimpleNamespace()  # FastAPI's ``app.state``: the app's own settings

    def enter(
        self,
        path: str,
        model: Model | None = None,
        summary: str | None = None,
        description: str | None = None,
        *,
        admins: Sequence[str] = (),
        name: str | None = None,
        **meta: Any,
    ) -> Callable[[F], F]:
        """Register an entry form at ``path`` (any URL path; see ``flow_name`` for the name
        it gets). kodosumi's other keywords (``tags``, ``author``, ``version``...) are kept.
        ``admins``: user ids, user groups (``S…``) or ``"channel"`` who, besides whoever
        started a run, may cancel it and snooze its locks."""
        return self._enter(path, model, summary, description, admins, name, None, meta)

    def _enter(
        self,
        path: str,
        model: Model | None,
        summary: str | None,
        description: str | None,
        admins: Sequence[str],
        name: str | None,
        runner: str | None,
        meta: Mapping[str, Any],
    ) -> Callable[[F], F]:
        if model is not None and not isinstance(model, Model):
            raise FlowConfigError(f"the form of {path!r} must be a Model")

        def register(fn: F) -> F:
            flow = flow_name(path, summary, getattr(fn, "__module__", "") or "", name)
            if flow in self.entries:
                raise FlowConfigError(
                    f"flow {flow!r} is registered twice: give one of them name='...'"
                )
            try:
                people = check_approvers(admins, "admins")
            except (TypeError, ValueError) as exc:
                raise FlowConfigError(f"flow {flow!r}: {exc}") from None
            self.entries[flow] = EntrySpec(
                flow, fn, model, summary or flow, description, people, self.kodosumi, runner,
                dict(meta), path,
            )  # fmt: skip
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

            async def start(inputs: Any, request: Request) -> Launch:
                return Launch(request, runner, inputs=inputs)

            self._enter(name, model, summary, description, admins, None, runner, {})(start)
            return fn

        return register

    def lock(self, name: str, **_kwargs: Any) -> Callable[[F], F]:
        """The form of lock ``name``; its handler gets ``data`` (what the flow passed to
        ``tracer.lock``) and ``request``. kodosumi's other keywords are accepted."""
        return self._handler(self.locks, name)

    def lease(self, name: str, **_kwargs: Any) -> Callable[[F], F]:
        """What a submission of lock ``name`` becomes; its handler gets ``inputs``, ``data``,
        ``request`` and ``responses``."""
        return self._handler(self.leases, name)

    @staticmethod
    def _handler(table: dict[str, Callable[..., Any]], name: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if name in table:
                raise FlowConfigError(f"handler for lock {name!r} is registered twice")
            table[name] = fn
            return fn

        return register

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AttributeError(
            f"{type(self).__name__}.{attr}: Lockstep's registry is not a FastAPI app; it has "
            "enter, lock, lease and flow, and takes FastAPI's routes, middleware and hooks "
            "without serving them (see docs/kodosumi.md)"
        )


class ServeAPI(FlowApp):
    """kodosumi's registry: enter and lease handlers get kodosumi's values
    (``flows.submitted``), and lock handlers the ``data`` exactly as the flow passed it."""

    kodosumi: ClassVar[bool] = True


class Registry:
    """Every loaded FlowApp merged: what the engine looks flows and handlers up in. Building it
    resolves every ``@app.flow`` runner, so a wrong one stops start-up. Flow names are unique
    across apps; lock and lease names are each app's own (as each kodosumi service is its own
    app): a flow finds its app's handlers first, then any other app's of a name only one app
    uses."""

    def __init__(self, apps: Iterable[FlowApp]) -> None:
        self.entries: dict[str, EntrySpec] = {}
        self._app_of: dict[str, FlowApp] = {}  # each flow's app
        apps = list(apps)
        for app in apps:
            if clash := sorted(self.entries.keys() & app.entries.keys()):
                raise FlowConfigError(f"flows registered by two FlowApps: {', '.join(clash)}")
            self.entries.update(app.entries)
            self._app_of |= dict.fromkeys(app.entries, app)
        self._shared = {  # per kind of handler, each name only one app has: that app
            kind: {name: got[0] for name, got in _by_name(apps, kind).items() if len(got) == 1}
            for kind in ("locks", "leases")
        }
        for spec in self.entries.values():
            if spec.runner is not None:
                resolve(spec.runner)
        forms = {name for app in apps for name in app.locks}
        for app in apps:
            for name in sorted(app.leases.keys() - forms):
                warnings.warn(
                    f"lease {name!r} has no @lock({name!r}) form: a flow reaching it will fail",
                    stacklevel=2,
                )

    def _app(self, flow: str, name: str, kind: str) -> FlowApp | None:
        """The app whose ``kind`` handler (``locks``, ``leases``) named ``name`` serves a run
        of ``flow``: the flow's own app's, else the one other app's that has one."""
        own = self._app_of.get(flow)
        if own is not None and name in getattr(own, kind):
            return own
        return self._shared[kind].get(name)

    def lock(self, flow: str, name: str) -> Callable[..., Any] | None:
        """The ``@app.lock(name)`` form handler for a run of ``flow``."""
        app = self._app(flow, name, "locks")
        return app.locks[name] if app else None

    def lease(self, flow: str, name: str) -> Callable[..., Any] | None:
        """The ``@app.lease(name)`` handler for a run of ``flow``."""
        app = self._app(flow, name, "leases")
        return app.leases[name] if app else None

    def kodosumi(self, flow: str, name: str, kind: str = "locks") -> bool:
        """Do the ``kind`` handlers of lock ``name`` (for ``flow``) take kodosumi's values?"""
        app = self._app(flow, name, kind)
        return app is not None and app.kodosumi


def _by_name(apps: Sequence[FlowApp], kind: str) -> dict[str, list[FlowApp]]:
    """Each name of a ``kind`` handler (``locks``, ``leases``), with the apps that have one."""
    found: dict[str, list[FlowApp]] = {}
    for app in apps:
        for name in getattr(app, kind):
            found.setdefault(name, []).append(app)
    return found
