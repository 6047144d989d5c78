"""Every kind of output a kodosumi flow makes, before and after a lock: text, HTML, Markdown,
warnings with a traceback, actions, results, ``*_sync`` from a sync helper on the event loop,
and ``print()``."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, response
# kodosumi: from kodosumi.service.inputs.forms import Model, Submit
from flows import Launch, ServeAPI, Tracer, response
from flows.forms import Model, Submit

app = ServeAPI()


@app.enter("/tracing", model=Model(Submit("Go")), summary="Tracing")
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, run, inputs=inputs, summary="Tracing, this time")


def helper(tracer: Tracer) -> None:  # sync code called from the async flow
    tracer.debug_sync("from a sync helper")
    print("printed by the helper")


async def run(inputs: dict, tracer: Tracer) -> Any:
    await tracer.text("plain", "text")
    await tracer.html("<p>some <b>HTML</b></p>")
    try:
        {}["missing"]
    except KeyError:
        await tracer.warning("lookup failed", exc_info=True)
    await tracer.action({"tool": "search", "query": "q"})
    await tracer.result("a result", response.Text("as text"))
    helper(tracer)
    await tracer.lock("tracing-lock")
    await tracer.markdown("after", "the lock")
    return response.HTML(f"<h1>Done</h1><p>run {tracer.fid}</p>")


@app.lock("tracing-lock")
async def tracing_lock() -> Model:
    return Model(Submit("Continue"))
