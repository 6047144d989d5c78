"""Extra flows for the Slack tests: a form too big for a message, a lease that crashes, one
that refuses a form without fields, a flow that echoes what people type every way it can."""

from __future__ import annotations

import asyncio
import os
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from flows import FlowApp, InputsError, Tracer, mention, quote
from flows.forms import Cancel, InputArea, InputText, Markdown, Model, Submit
from flows.policy import Escalation

app = FlowApp()


@app.flow("survey", summary="Long survey")
async def survey(tracer: Tracer) -> dict[str, Any]:
    answers: dict[str, Any] = await tracer.lock("survey_form")
    return {"q0": answers["q0"]}


@app.lock("survey_form")
def survey_form(data: dict[str, Any]) -> Model:
    questions = [InputText(f"q{i}", f"Question {i}", required=i == 0) for i in range(60)]
    return Model(*questions, Submit("Send"))


@app.flow("fragile", summary="Fragile lease")
async def fragile(tracer: Tracer) -> Any:
    return await tracer.lock("fragile_form")


@app.lock("fragile_form")
def fragile_form(data: dict[str, Any]) -> Model:
    return Model(InputText("x", "X"), Submit("Go"))


@app.lease("fragile_form")
def fragile_lease(inputs: dict[str, Any]) -> Any:
    if inputs["x"] == "boom":
        raise RuntimeError("database password is hunter2")  # must never reach the person
    return inputs


@app.flow("considered", summary="Considered approval")
async def considered(tracer: Tracer) -> Any:
    return await tracer.lock("considered_form")


@app.lock("considered_form")
def considered_form(data: dict[str, Any]) -> Model:
    return Model(InputText("x", "X"), Submit("Go"), Cancel("No"))


# how long its lease takes (a bot run as a process: from its environment)
CONSIDERING = {"seconds": float(os.environ.get("LOCKSTEP_TEST_CONSIDERING", "0.3"))}


@app.lease("considered_form")
async def considered_lease(inputs: dict[str, Any]) -> Any:
    await asyncio.sleep(CONSIDERING["seconds"])  # a lookup that takes a moment
    return inputs


TURNSTILE = {"open": False}  # its lease refuses every answer while it is closed


@app.flow("turnstile", summary="Turnstile")
async def turnstile(tracer: Tracer) -> Any:
    return await tracer.lock("turnstile_form")


@app.lock("turnstile_form")
def turnstile_form(data: dict[str, Any]) -> Model:
    return Model(Markdown("Go through the turnstile?"), Submit("Go"), Cancel("Stay"))


@app.lease("turnstile_form")
def turnstile_lease(inputs: dict[str, Any]) -> Any:
    if not TURNSTILE["open"]:
        raise InputsError("The turnstile is closed: try again later.")
    return "through"


@app.flow("nudged", summary="Nudged approval")
async def nudged(tracer: Tracer) -> Any:
    return await tracer.lock(
        "nudge_form",
        timeout=3 * 3600,
        remind=3600,
        escalate=Escalation.of(5400, ["UMANAGER", "SREVIEWERS"]),
        snooze=timedelta(days=1),
    )


@app.lock("nudge_form")
def nudge_form(data: dict[str, Any]) -> Model:
    return Model(InputText("note", "Note"), Submit("Approve"))


@app.flow("vetted", summary="Vetted approval")
async def vetted(tracer: Tracer) -> Any:
    return await tracer.lock("vetted_form", approvers=["UAPPROVER", "SREVIEW"])


@app.flow("either_group", summary="Either of two groups' approval")
async def either_group(tracer: Tracer) -> Any:
    return await tracer.lock("vetted_form", approvers=["SOPS", "SREVIEW"])  # two lookups


@app.lock("vetted_form")
def vetted_form(data: dict[str, Any]) -> Model:
    return Model(InputText("x", "X"), Submit("Approve"), Cancel("Reject"))


@app.flow("ship", summary="Ship it")
async def ship(tracer: Tracer) -> bool:
    return await tracer.approve("Ship *v2* to everyone?")


@app.flow("release", summary="Release approval", admins=["SREVIEW"])
async def release(tracer: Tracer) -> bool:
    return await tracer.approve("Release *v3*?", quorum=2, exclude_initiator=True)


class Trip(BaseModel):
    city: str = Field(description="Where to")
    nights: int = Field(ge=1, le=14)
    budget: float = Field(gt=0)
    cabin: Literal["economy", "business"] = "economy"


@app.flow("trip", summary="Trip request")
async def trip(tracer: Tracer) -> dict[str, Any]:
    booked = await tracer.input("Plan the trip", Trip)
    return {
        "city": booked.city,
        "nights": booked.nights,
        "per_night": booked.budget / booked.nights,
    }


@app.flow("launch", summary="Launch plan")
async def launch(tracer: Tracer) -> dict[str, Any]:
    return {
        "name": await tracer.ask("Release name?"),
        "channel": await tracer.choose("Channel?", ["stable", "beta"]),
        "regions": await tracer.choose_many("Regions?", ["eu", "us", "ap"]),
        "canaries": await tracer.input("How many canaries?", int),
        "day": (await tracer.input("Which day?", date)).isoformat(),
        "announce": await tracer.input("Announce it?", bool),
    }


def _note(item: str, step: int) -> str:
    return f"{item}:{step}"


@app.flow("ledger", model=Model(InputText("item", "Item", required=True)), summary="Ledger")
async def ledger(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    """Two locks and three side-effect steps: what the crash tests drive to the end."""
    item = inputs["item"]
    first = await tracer.step("one", _note, item, 1)
    checked = await tracer.approve(f"Check {item}", comment=False)
    second = await tracer.step("two", _note, item, 2)
    signed = await tracer.approve(f"Sign {item}", comment=False)
    third = await tracer.step("three", _note, item, 3)
    return {"steps": [first, second, third], "checked": checked, "signed": signed}


@app.flow(
    "echo",
    summary="Echo <!channel>",  # an author's text is literal too, unless it asks otherwise
    model=Model(InputText("words", "Words"), Submit("Go")),
)
async def echo(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    """Everything a person typed, shown back every way a flow can: debug, Markdown, a lock's
    heading and form, its answer, its rejection, the result."""
    words = inputs["words"] or ""
    await tracer.debug("typed:", words)
    await tracer.markdown(f"{mention('UALICE')}: **{quote(words)}**")
    answer = await tracer.lock("echo_form", data={"words": words}, snooze=60)
    return {"words": words, "note": answer["note"]}


@app.lock("echo_form")
def echo_form(data: dict[str, Any]) -> Model:
    words = data["words"]
    return Model(
        Markdown(f"# Check {words}\nYou typed *{quote(words)}*."),
        InputText("note", "Note"),
        InputArea("comment", "Comment"),
        Submit("OK"),
        Cancel("Reject"),
    )
