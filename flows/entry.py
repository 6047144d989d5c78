"""Entry points and how flows and handlers are called, as kodosumi calls them.

An entry point is a function, an async function, a CrewAI-like object (anything with
``kickoff_async``/``kickoff``, or a ``@CrewBase`` class), or the name of one:
``"package.module:name"`` or ``"package.module.name"``. It is stored by name so any process can
replay the run, and resolved before a run starts, so a name that does not resolve is refused at
the entry form, never half-way. Handlers and flows get the arguments they name (``inputs``,
``tracer``, ``request``, ``data``...); other parameters need defaults. Sync flows run in a worker
thread, off the event loop, as kodosumi runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import sys
from collections.abc import Callable
from typing import Any, Protocol

from flows.errors import FlowConfigError, FlowExited


class Traced(Protocol):
    """What running a flow needs of its tracer: CrewAI's callbacks, output capture, and
    waiting for output still being recorded."""

    def action_sync(self, *objs: Any) -> None: ...

    def result_sync(self, *objs: Any) -> None: ...

    def capture(self) -> contextlib.AbstractContextManager[None]: ...

    async def flush(self) -> None: ...


def runnable(target: Any) -> bool:
    """Can a run start here: a callable, or a crew (an object with ``kickoff``)."""
    return callable(target) or _crewish(target)


def _crewish(target: Any) -> bool:
    return any(hasattr(target, a) for a in ("kickoff_async", "kickoff", "is_crew_class"))


def entry_point_name(entry_point: Any, *, check: bool = True, near: str | None = None) -> str:
    """The name a runner is stored by. A function is ``module:qualname``; another object (a
    crew) is found by identity among the globals of its module or of ``near`` (the module of
    the enter handler that launched it). ``check``: the name must resolve."""
    if isinstance(entry_point, str):
        name = entry_point
    else:
        name = _name_of(entry_point, near)
    if check:
        resolve(name)
    return name


def _name_of(target: Any, near: str | None) -> str:
    qualname = getattr(target, "__qualname__", None)
    module = getattr(target, "__module__", None)
    owner = getattr(target, "__self__", None)
    if inspect.ismethod(target) and not isinstance(owner, type):
        # a module-level object's method (``Launch(request, agent.run)``): the object's name
        # and the method's, as its class alone would lose the object
        return f"{_name_of(owner, near or module)}.{target.__name__}"
    if isinstance(qualname, str) and isinstance(module, str) and "<" not in qualname:
        return f"{module}:{qualname}"  # a function, or a class (a @CrewBase crew)
    for where in (near, module, getattr(type(target), "__module__", None)):
        found = sys.modules.get(where) if where else None
        for attr, value in vars(found).items() if found else ():
            if value is target:  # an object; or a function a decorator made (no functools.wraps)
                return f"{where}:{attr}"
    if isinstance(qualname, str) and isinstance(module, str) and inspect.isroutine(target):
        raise FlowConfigError(f"runner {module}:{qualname} must be a module-level function")
    raise FlowConfigError(
        f"cannot find {type(target).__name__} object {target!r:.60} at module level: pass its "
        "name ('package.module:name') or define it at module level"
    )


def _split(name: str) -> tuple[str, list[str]]:
    """``"pkg.mod:a.b"`` -> ``("pkg.mod", ["a", "b"])``; ``"pkg.mod.a"``: the longest
    importable module prefix, then attributes."""
    if ":" in name:
        module, _, attrs = name.partition(":")
        return module, attrs.split(".") if attrs else []
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:cut])
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        return module, parts[cut:]
    return name, []


def resolve(name: str) -> Any:
    """The runner (or crew) a name stands for; ``FlowConfigError`` saying why not."""
    if not isinstance(name, str) or not name.strip():
        raise FlowConfigError(f"runner {name!r} must be 'package.module:function'")
    module, attrs = _split(name.strip())
    if not module or not attrs or not all(attrs):
        raise FlowConfigError(
            f"runner {name!r} must look like 'package.module:function' or 'package.module.function'"
        )
    try:
        target: Any = importlib.import_module(module)
        for part in attrs:
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise FlowConfigError(f"cannot load runner {name!r}: {exc}") from exc
    if not runnable(target):
        raise FlowConfigError(f"runner {name!r} is not callable")
    return target


def parameters(fn: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """The names of ``fn``'s parameters, and whether it takes ``**kwargs``; read once per
    function (a handler is called on every answer, and its signature does not change)."""
    try:
        return _parameters(fn)
    except TypeError:  # a callable that cannot be a cache key (its object is unhashable)
        return _parameters.__wrapped__(fn)


@functools.lru_cache(maxsize=1024)
def _parameters(fn: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    params = inspect.signature(fn).parameters
    return frozenset(params), any(p.kind is p.VAR_KEYWORD for p in params.values())


def bind(fn: Callable[..., Any], available: dict[str, Any]) -> dict[str, Any]:
    """The arguments ``fn`` names, out of ``available`` (all of them for ``**kwargs``)."""
    names, any_keyword = parameters(fn)
    if any_keyword:
        return dict(available)
    return {k: v for k, v in available.items() if k in names}


def wants(fn: Callable[..., Any], name: str) -> bool:
    """Does ``fn`` take an argument called ``name``?"""
    names, any_keyword = parameters(fn)
    return name in names or any_keyword


async def call(fn: Callable[..., Any], **available: Any) -> Any:
    """Call a handler with the arguments it names; await it if async. ``sys.exit()`` in it is
    ``FlowExited``: it fails the handler, not the bot."""
    try:
        result = fn(**bind(fn, available))
        return await result if inspect.isawaitable(result) else result
    except SystemExit as exc:
        raise FlowExited(exc.code) from None


async def run(target: Any, inputs: Any, tracer: Traced) -> Any:
    """Run a flow's entry point. Async flows run on the loop; sync ones in a worker thread; a
    crew through ``kickoff_async`` (or ``kickoff`` in a thread) with ``inputs``, its steps and
    tasks recorded as ``action`` and ``result`` output. ``print()`` inside becomes output;
    ``sys.exit()`` fails the run (``FlowExited``), not the bot whose event loop it runs on."""
    with tracer.capture():
        try:
            if getattr(target, "is_crew_class", False):
                target = target().crew()
            if _crewish(target) and not inspect.isroutine(target):
                return await _kickoff(target, inputs, tracer)
            args = bind(target, {"inputs": inputs, "tracer": tracer})
            if _is_async(target):
                return await target(**args)
            result = await asyncio.to_thread(functools.partial(target, **args))
            return await result if inspect.isawaitable(result) else result
        except SystemExit as exc:
            raise FlowExited(exc.code) from None
        finally:
            await tracer.flush()


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004
    )


async def _kickoff(crew: Any, inputs: Any, tracer: Traced) -> Any:
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        crew.step_callback = tracer.action_sync
        crew.task_callback = tracer.result_sync
    dump = getattr(inputs, "model_dump", None)
    data = dump() if callable(dump) else inputs
    if hasattr(crew, "kickoff_async"):
        return await crew.kickoff_async(inputs=data)
    return await asyncio.to_thread(functools.partial(crew.kickoff, inputs=data))
