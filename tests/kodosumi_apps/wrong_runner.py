"""A runner registered with ``@app.flow`` that does not exist under its name: found when the
flows load, not when someone starts it."""

from typing import Any

from flows import FlowApp, Tracer

app = FlowApp()


def _wrap(fn: Any) -> Any:
    fn.__qualname__ = "renamed"  # as a decorator that forgets functools.wraps would
    return fn


@app.flow("wrong")
@_wrap
async def wrong(tracer: Tracer) -> None:
    return None
