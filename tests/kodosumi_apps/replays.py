"""kodosumi-style apps whose code Lockstep replays after an answer (only imports changed):
cleanup around a lock, a lock's data made afresh by code outside any step (an LLM), and the
indented Markdown, button choices and nested models real apps write."""

import itertools
from typing import Any

from pydantic import BaseModel

from flows import InputsError, Launch, ServeAPI, Tracer
from flows import forms as F
from flows.response import Markdown

app = ServeAPI()
GO = F.Model(F.Submit("Go"))
released: list[str] = []  # rooms a run gave back
_drafts = itertools.count(1)


@app.lock("sign")
def sign_form(data: Any = None) -> F.Model:
    return F.Model(F.Markdown(f"Sign off {data}?"), F.InputText("note", "Note"), F.Submit("Sign"))


@app.enter("/reserve", model=GO, summary="Reserve a room")
async def reserve(request: Any, inputs: dict) -> Launch:
    return Launch(request, reserve_room, inputs=inputs)


async def reserve_room(inputs: dict, tracer: Tracer) -> Any:
    try:
        return await tracer.lock("sign", data="room 1")
    finally:  # runs once the lock is answered, not while it waits
        await tracer.markdown("room given back")
        await tracer.step("give back", released.append, "room 1")


async def write_draft() -> str:  # an LLM call outside any step: another text each time
    return f"draft #{next(_drafts)}"


@app.enter("/draft", model=GO, summary="Publish a draft")
async def draft(request: Any, inputs: dict) -> Launch:
    return Launch(request, publish_draft, inputs=inputs)


async def publish_draft(inputs: dict, tracer: Tracer) -> Any:
    text = await write_draft()
    await tracer.lock("sign", data=text)
    return {"published": text}


@app.enter(
    "/indented",
    model=F.Model(
        F.Markdown("""
            # Report

            ## Details
            * one
            """),
        F.InputText("topic", "Topic"),
        F.Submit("Go"),
    ),
    summary="Indented Markdown",
)
async def indented(request: Any, inputs: dict) -> Launch:
    return Launch(request, indented_result, inputs=inputs)


async def indented_result(inputs: dict, tracer: Tracer) -> Any:
    await tracer.markdown("""
        ## Step
        * **done**
        """)
    return Markdown("""
        # Result

        ## Section
        * a
        """)


@app.enter(
    "/publish",
    model=F.Model(
        F.InputText("title", "Title"),
        F.Action("mode", "draft", text="Save draft"),
        F.Action("mode", "publish", text="Publish"),
        F.Submit("Go"),
    ),
    summary="Publish mode",
)
async def publish(request: Any, inputs: dict) -> Launch:
    if inputs["mode"] is None:
        raise InputsError(mode="Choose draft or publish")
    return Launch(request, indented_result, inputs=inputs)


class Report(BaseModel):
    title: str
    score: int


@app.enter("/reports", model=GO, summary="Reports")
async def reports(request: Any, inputs: dict) -> Launch:
    return Launch(request, report_result, inputs=inputs)


async def report_result(inputs: dict, tracer: Tracer) -> Any:
    return {"best": Report(title="a", score=1), "all": [Report(title="b", score=2)]}
