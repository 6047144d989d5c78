"""Flows for the API tests: a lock whose lease checks a number, and a quick approval."""

from __future__ import annotations

from typing import Any

from flows import FlowApp, InputsError, Tracer
from flows.forms import Cancel, InputNumber, InputPassword, InputText, Model, Submit

app = FlowApp()


@app.flow(
    "gate",
    model=Model(InputText("service", "Service", required=True, pattern=r"[a-z]+"), Submit("Go")),
    summary="Release gate",
)
async def gate(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    answer = await tracer.lock("gate_check", data={"service": inputs["service"]})
    return {"service": inputs["service"], "replicas": answer["replicas"]}


@app.lock("gate_check")
def gate_form(data: dict[str, Any]) -> Model:
    return Model(
        InputNumber("replicas", "Replicas", required=True, min_value=1, max_value=10),
        InputText("why", "Why"),
        InputPassword("pin", "PIN"),
        Submit("Approve"),
        Cancel("Reject"),
    )


@app.lease("gate_check")
def gate_lease(inputs: dict[str, Any]) -> dict[str, Any]:
    if inputs["replicas"] > 5 and not inputs["why"]:
        raise InputsError(why="Say why more than 5")
    return {"replicas": inputs["replicas"], "pin": inputs["pin"]}


@app.enter("/crashy", model=Model(Submit("Go")), summary="Crashes at its entry")
def crashy(inputs: dict[str, Any]) -> Any:
    raise RuntimeError("the enter handler's bug")
