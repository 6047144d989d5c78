"""Blocking work handed to the event loop's default executor, as kodosumi apps (and kodosumi
itself) do: ``loop.run_in_executor(None, fn)``, whose ``print()`` lines are the run's output
in kodosumi (every thread of the run's process is captured)."""

import asyncio
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()


@app.enter("/crunch", model=F.Model(F.InputText("n", "How many", value="3"), F.Submit("Go")))
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, crunch, inputs=inputs)


def work(n: int) -> int:  # a blocking library call, chatty on stdout
    print(f"crunching {n} items")
    return n * n


async def crunch(inputs: dict, tracer: Tracer) -> dict:
    loop = asyncio.get_event_loop()
    squared = await loop.run_in_executor(None, work, int(inputs["n"]))
    await tracer.markdown(f"**{squared}**")
    return {"squared": squared}
