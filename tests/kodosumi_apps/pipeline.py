"""A sync runner driving an async pipeline with ``asyncio.run`` in its worker thread (as a
CrewAI ``Flow.kickoff()`` does), whose steps await ``tracer.markdown``; kodosumi's tracer
takes output from any event loop."""

import asyncio
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()


@app.enter("/pipeline", model=F.Model(F.InputText("topic", "Topic"), F.Submit("Go")))
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, run, inputs=inputs)


async def research(topic: str, tracer: Tracer) -> list[str]:
    await tracer.markdown(f"## Researching *{topic}*")
    await asyncio.sleep(0)
    notes = [f"{topic} is old", f"{topic} is loved"]
    await tracer.debug(*notes)
    return notes


async def pipeline(topic: str, tracer: Tracer) -> str:
    notes = await research(topic, tracer)
    await tracer.result({"notes": len(notes)})
    return "; ".join(notes)


def run(inputs: dict, tracer: Tracer) -> dict:  # sync: kodosumi runs it in a thread
    tracer.debug_sync("kicking off")
    summary = asyncio.run(pipeline(inputs["topic"], tracer))
    tracer.markdown_sync("done")
    return {"summary": summary}


@app.enter("/pipeline-lock", model=F.Model(F.Submit("Go")))
async def enter_lock(request: Any, inputs: dict) -> Any:
    return Launch(request, run_lock, inputs=inputs)


async def approve(tracer: Tracer) -> Any:
    return await tracer.lock("pipeline-ok")


def run_lock(inputs: dict, tracer: Tracer) -> Any:
    return asyncio.run(approve(tracer))
