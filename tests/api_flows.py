"""Flows for the API tests: a lock whose lease checks a number, and a quick approval; a
triage whose first answer names an outcome of its own before its sign-off."""

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


@app.flow("triage", summary="Triage, then sign-off")
async def triage(tracer: Tracer) -> dict[str, Any]:
    found = await tracer.lock("triage_form")  # a field of the form is called "outcome"
    await tracer.lock("signoff_form", data=found)  # rejected: the run's outcome is "rejected"
    return found


@app.lock("triage_form")
def triage_form() -> Model:
    return Model(InputText("outcome", "Outcome"), Submit("Send"))


@app.lock("signoff_form")
def signoff_form() -> Model:
    return Model(Submit("Sign off"), Cancel("Reject"))
