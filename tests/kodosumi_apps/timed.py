"""A runner wrapped by the app's own timing decorator, written without ``functools.wraps`` as
helper decorators in agent apps often are: the module's ``runner`` is the wrapper (kodosumi
hands Ray the function itself, so it runs there)."""

import time
from collections.abc import Awaitable, Callable
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()


def timed(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        result = await fn(*args, **kwargs)
        return {**result, "seconds": round(time.monotonic() - started) * 0}

    return wrapper


@timed
async def runner(inputs: dict, tracer: Tracer) -> dict:
    await tracer.markdown(f"Checking *{inputs['item']}*")
    ok = await tracer.lock("timed-ok", data={"item": inputs["item"]})
    return {"item": inputs["item"], "ok": ok["ok"]}


@app.enter("/timed", model=F.Model(F.InputText("item", "Item"), F.Submit("Go")))
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, runner, inputs=inputs)


@app.lock("timed-ok")
async def timed_ok(data: dict) -> F.Model:
    return F.Model(
        F.Markdown(f"Is *{data['item']}* fine?"), F.Checkbox("ok", "Fine"), F.Submit("Go")
    )
