"""A document digest as apps ported off Ray write their fan-out: a thread pool the service
keeps, its workers reporting with ``debug_sync``/``markdown_sync``, and the async runner
gathering their results with a blocking ``map`` (kodosumi's tracer never makes a worker wait
for the runner's event loop)."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()
POOL = ThreadPoolExecutor(max_workers=2)  # one for the service, shared by its runs


@app.enter(
    "/digest",
    model=F.Model(F.InputText("docs", "Documents", value="alpha beta gamma"), F.Submit("Go")),
    summary="Digest",
)
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, digest, inputs=inputs)


def summarise(doc: str, tracer: Tracer) -> str:
    tracer.debug_sync(f"reading {doc}")
    tracer.markdown_sync(f"* **{doc}**: {len(doc)} letters")
    return doc.upper()


async def digest(inputs: dict, tracer: Tracer) -> Any:
    docs = inputs["docs"].split()
    summaries = list(POOL.map(lambda doc: summarise(doc, tracer), docs, timeout=5))
    await tracer.markdown(f"Read {len(summaries)} documents.")
    return {"summaries": summaries}
