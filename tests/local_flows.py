"""Flows for the local mode tests: every input the renderer emits, once in the entry modal and once
in a lock message, each answer summed up in one line of the result; and a lock that escalates
to Carol after a second."""

from __future__ import annotations

from typing import Any

from flows import FlowApp, Launch, Request, Tracer
from flows.forms import (
    Checkbox,
    InputDate,
    InputDateTime,
    InputNumber,
    InputOption,
    InputText,
    InputTime,
    Markdown,
    Model,
    MultiSelect,
    Select,
    Submit,
    UserSelect,
)
from flows.policy import Escalation

app = FlowApp()
OPTIONS = [InputOption("a", "Apple"), InputOption("b", "Banana"), InputOption("c", "Cherry")]


def every_input(title: str) -> Model:
    return Model(
        Markdown(f"# {title}\nEvery kind of input, with **bold** and `code`."),
        InputText("text", "Text"),
        InputNumber("count", "Count", min_value=1, max_value=9, step=1),
        InputDate("day", "Day"),
        InputTime("at", "At"),
        InputDateTime("when", "When"),
        Checkbox("agree", "Agree", "I agree"),
        Select("one", OPTIONS, "One fruit"),
        MultiSelect("many", OPTIONS, "Fruits"),
        UserSelect("owner", "Owner"),
        UserSelect("team", "Team", multiple=True),
        Submit("Send"),
    )


def summary(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(values.items()))


@app.enter("/everything", model=every_input("Entry"), summary="Every input")
async def start(inputs: dict[str, Any], request: Request) -> Launch:
    return Launch(request, run, inputs={"entry": summary(inputs)})


async def run(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    answer = await tracer.lock("every_input")
    return {"entry": inputs["entry"], "lock": summary(answer)}


@app.lock("every_input")
async def lock_form(data: dict[str, Any]) -> Model:
    return every_input("In a message")


@app.flow("escalating", summary="Urgent sign-off")
async def escalating(tracer: Tracer) -> Any:
    """Bob's to answer; a second later Carol may too, and is told by direct message."""
    return await tracer.lock(
        "urgent", approvers=["U0BOB"], escalate=Escalation.of(1, ["U0CAROL"]), timeout=3600
    )


@app.lock("urgent")
async def urgent_form(data: dict[str, Any]) -> Model:
    return Model(Markdown("# Urgent sign-off"), Checkbox("ok", "Signed off", "Yes"), Submit("Sign"))
