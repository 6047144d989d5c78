"""A review panel: three reviewers asked side by side, each verdict posted as it comes in
(``asyncio.as_completed``), and a quick poll where the first answer wins
(``asyncio.wait(FIRST_COMPLETED)``), as agent apps fan out and gather."""

import asyncio
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.service.inputs.forms import Model, Markdown, Select, InputOption, ...
from flows import Launch, ServeAPI, Tracer
from flows.forms import InputArea, InputOption, Markdown, Model, Select, Submit

app = ServeAPI()
REVIEWERS = ("legal", "finance", "brand")


@app.enter("/panel", model=Model(Markdown("Ask the panel"), Submit("Ask")), summary="Panel")
async def panel(request: Any, inputs: dict) -> Any:
    return Launch(request, ask_panel, inputs=inputs)


async def review(tracer: Tracer, reviewer: str) -> tuple[str, str]:
    answer = await tracer.lock("review", data={"reviewer": reviewer})
    return reviewer, answer["verdict"]


async def ask_panel(inputs: dict, tracer: Tracer) -> list[str]:
    order = []
    for next_verdict in asyncio.as_completed([review(tracer, r) for r in REVIEWERS]):
        reviewer, verdict = await next_verdict
        order.append(f"{reviewer}: {verdict}")
        await tracer.markdown(f"**{reviewer}** says *{verdict}* ({len(order)} of 3)")
    return order


@app.enter("/poll", model=Model(Submit("Poll")), summary="Quick poll")
async def poll(request: Any) -> Any:
    return Launch(request, quick_poll)


async def quick_poll(tracer: Tracer) -> str:
    asked = [asyncio.ensure_future(review(tracer, r)) for r in REVIEWERS]
    done, pending = await asyncio.wait(asked, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    reviewer, verdict = done.pop().result()
    return f"{reviewer} first: {verdict}"


@app.lock("review")
async def review_form(data: dict) -> Model:
    return Model(
        Markdown(f"# Review for {data['reviewer']}"),
        Select(name="verdict", label="Verdict", option=[InputOption("go"), InputOption("hold")]),
        InputArea("comments", "Comments"),
        Submit("Send"),
    )
