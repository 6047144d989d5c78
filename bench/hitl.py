"""The HITL workload's flow: pause at a lock, resume, pause at a second lock, finish."""

from __future__ import annotations

from typing import Any

from flows import FlowApp, Tracer
from flows.forms import Checkbox, InputText, Markdown, Model, Submit

app = FlowApp()


@app.flow("hitl", summary="two approvals")
async def hitl(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    first = await tracer.lock("first", data={"n": inputs["n"]})
    second = await tracer.lock("second", data={"n": inputs["n"]})
    return {"first": first["ok"], "second": second["ok"]}


@app.lock("first")
@app.lock("second")
def form(data: dict[str, Any]) -> Model:
    return Model(
        Markdown(f"Approve item {data['n']}?"),
        Checkbox("ok", "Approve"),
        InputText("note", "Note"),
        Submit("Approve"),
    )
