"""Flows the engine tests run. Module-level so any process can replay them by name."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flows import FlowApp, InputsError, Launch, LockExpired, LockRejected, Request, Response, Tracer
from flows.forms import Cancel, Checkbox, InputNumber, InputText, Markdown, Model, Submit
from flows.policy import Escalation

app = FlowApp()


@app.enter(
    "/review",
    model=Model(InputText("doc", "Document", required=True), Submit("Start")),
    summary="Document review",
)
async def enter_review(inputs: dict[str, Any], request: Request) -> Launch:
    if inputs["doc"] == "forbidden":
        raise InputsError(doc="That document cannot be reviewed")
    return Launch(request, "tests.sample_flows:review", inputs=inputs)


async def review(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    await tracer.debug("reviewing", inputs["doc"])
    content = await tracer.lock("content", data={"doc": inputs["doc"]}, timeout=600)
    final = await tracer.lock("final", data={"score": content["score"]})
    return {"doc": inputs["doc"], "score": content["score"], "final": final}


@app.lock("content")
async def content_form(data: dict[str, Any]) -> Model:
    return Model(
        Markdown(f"# Review {data['doc']}"),
        InputNumber("score", "Score", required=True, min_value=1, max_value=5),
        InputText("comment", "Comment"),
        Submit("Approve"),
        Cancel("Reject"),
    )


# an answer whose comment names one of these is held in its lease until the test sets the
# event, then refused ("...crash": the lease crashes instead)
HELD: dict[str, asyncio.Event] = {}


@app.lease("content")
async def content_lease(inputs: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    if (held := HELD.get(inputs["comment"] or "")) is not None:
        await held.wait()
        if inputs["comment"].endswith("crash"):
            raise RuntimeError("held, then crashed")
        raise InputsError(comment="held, then refused")
    if inputs["score"] < 3 and not inputs["comment"]:
        raise InputsError(comment="Explain a low score")
    return {"score": inputs["score"], "doc": data["doc"]}


@app.lock("final")
def final_form(data: dict[str, Any]) -> Model:
    return Model(Checkbox("ok", "OK", "Publish"), Submit("Done"), Cancel("Reject"))


@app.flow("catching", summary="catches a rejection")
async def catching(tracer: Tracer) -> str:
    try:
        await tracer.lock("final")
    except LockRejected as exc:
        return f"rejected by {exc.by}: {exc.comment}"
    except LockExpired:
        return "expired"
    return "approved"


@app.flow("gather")
async def gather(tracer: Tracer) -> list[Any]:
    return list(await asyncio.gather(tracer.lock("final"), tracer.lock("final")))


FIRST = ["A"]  # which branch of ``crossing`` reaches its lock first (a test changes it)
UNTIL = [0.0]  # when ``crossing``'s reviews are due, if set (their timeout is what is left)


@app.flow("crossing")
async def crossing(tracer: Tracer) -> dict[str, Any]:
    """Two branches, each with a lock; which reaches it first is up to ``FIRST``."""

    async def review(doc: str) -> Any:
        if doc != FIRST[0]:
            await asyncio.sleep(0)
        left = UNTIL[0] - time.time() if UNTIL[0] else None  # another figure every replay
        return await tracer.lock("final", data={"doc": doc}, timeout=left)

    a, b = await asyncio.gather(review("A"), review("B"))
    return {"A": a, "B": b}


async def _looked_up() -> str:
    await asyncio.sleep(0.01)  # really waits: the first run reaches the other lock first
    return "checked"


@app.flow("two_approvals")
async def two_approvals(tracer: Tracer) -> dict[str, Any]:
    """Two typed approvals in branches, one after a step: a replay reaches them in another
    order (the step answers at once), each keeps its own answer."""

    async def security() -> bool:
        await tracer.step("look up", _looked_up)
        return await tracer.approve("Security OK?", approvers=["USEC"])

    async def legal() -> bool:
        return await tracer.approve("Legal OK?", approvers=["ULEGAL"])

    sec, leg = await asyncio.gather(security(), legal())
    return {"security": sec, "legal": leg}


BOOMS: list[str] = []  # each time ``failing_step``'s step really ran


def _boom() -> None:
    BOOMS.append("ran")
    raise RuntimeError("the service said no")


@app.flow("failing_step")
async def failing_step(tracer: Tracer) -> list[str]:
    """A step that raised, caught: what the flow sees of it, first run and replay."""
    try:
        await tracer.step("flaky", _boom)
    except Exception as exc:
        seen = [type(exc).__name__, str(exc)]
    await tracer.lock("final")
    return seen


@app.lock("slow_form")
async def slow_form(data: dict[str, Any]) -> Model:
    await asyncio.sleep(0.01)  # a form that takes a moment to make (a lookup)
    return Model(Checkbox("ok", "OK", "Fine"), Submit("Done"))


@app.flow("fast_and_slow")
async def fast_and_slow(tracer: Tracer) -> list[Any]:
    return list(await asyncio.gather(tracer.lock("final"), tracer.lock("slow_form")))


@app.flow("slow_and_fast")
async def slow_and_fast(tracer: Tracer) -> list[Any]:
    return list(await asyncio.gather(tracer.lock("slow_form"), tracer.lock("final")))


@app.flow("side_effects")
async def side_effects(inputs: dict[str, Any], tracer: Tracer) -> int:
    """Appends to a file in steps: the file shows how often each effect really happened."""
    log = Path(inputs["log"])

    async def effect(tag: str) -> int:
        marker = Path(inputs.get("marker", "/nonexistent"))
        if inputs.get("block_in") == tag and not marker.exists():
            marker.write_text("blocked once")
            # to the test watching this process: print() inside a flow is the run's output
            print("blocked", tag, file=sys.__stdout__, flush=True)
            await asyncio.sleep(3600)  # the crash test kills the process here
        with log.open("a") as f:
            f.write(f"{tag}:{os.getpid()}\n")
        return len(log.read_text().splitlines())

    first = await tracer.step("first", effect, "first")
    await tracer.lock("final")
    second = await tracer.step("second", effect, "second")
    await tracer.sleep(inputs.get("nap", 60))
    return int(first + second)


@app.flow("keyed_effect")
async def keyed_effect(inputs: dict[str, Any], tracer: Tracer) -> str:
    """A step whose effect goes to an "API" that de-duplicates by key (a file of keys); the
    first time, the process is killed after the effect and before it is recorded."""
    attempts, effects = Path(inputs["attempts"]), Path(inputs["effects"])

    async def charge(amount: int, idempotency_key: str) -> str:
        with attempts.open("a") as f:
            f.write(idempotency_key + "\n")
        if idempotency_key not in effects.read_text().split():
            with effects.open("a") as f:
                f.write(f"{idempotency_key} {amount}\n")
        if len(attempts.read_text().split()) == 1:
            os.write(1, f"charged {idempotency_key}\n".encode())  # past print()'s capture
            await asyncio.sleep(3600)  # the crash test kills the process here
        return idempotency_key

    return str(await tracer.step("charge", charge, 42))


@app.flow("drifting")
async def drifting(inputs: dict[str, Any], tracer: Tracer) -> None:
    name = "final" if not Path(inputs["flag"]).exists() else "content"
    await tracer.lock(name, data={"doc": "x"})


@app.flow("no_form")
async def no_form(tracer: Tracer) -> None:
    await tracer.lock("nowhere")


@app.flow("long_lock_name")
async def long_lock_name(tracer: Tracer) -> Any:
    return await tracer.lock_form("approval " * 25, Model(InputText("a", "A"), Submit()))


@app.flow("long_step_name")
async def long_step_name(tracer: Tracer) -> Any:
    return await tracer.step("fetch " * 40, time.time)


@app.flow("sleeper")
async def sleeper(tracer: Tracer) -> str:
    await tracer.sleep(120)
    return "rested"


@app.flow("reminded")
async def reminded(tracer: Tracer) -> Any:
    return await tracer.lock(
        "final", timeout=3 * 3600, remind=3600, escalate=Escalation.of(5400, ["UMANAGER"])
    )


@app.flow("policies")
async def policies(inputs: dict[str, Any], tracer: Tracer) -> Any:
    then = inputs["then"] if inputs["then"] != "approve" else ("approve", {"ok": "default"})
    try:
        return await tracer.lock("final", timeout=60, remind=[30], on_timeout=then)
    except LockRejected as exc:
        return f"rejected: {exc.comment}"


@app.flow("snoozable")
async def snoozable(tracer: Tracer) -> Any:
    return await tracer.lock("final", timeout=3600, snooze=timedelta(days=1))


@app.flow("quick")
async def quick(inputs: dict[str, Any], tracer: Tracer) -> Any:
    return await tracer.lock("final", timeout=inputs["timeout"])


@app.flow("guarded")
async def guarded(inputs: dict[str, Any], tracer: Tracer) -> Any:
    return await tracer.lock(
        "final",
        approvers=inputs.get("approvers"),
        exclude_initiator=inputs.get("four_eyes", False),
        escalate=Escalation.of(60, ["ULATE"]),
        snooze=60,
    )


@app.flow("prompted")
async def prompted(tracer: Tracer) -> dict[str, Any]:
    return {
        "approved": await tracer.approve("Ship it?"),
        "name": await tracer.ask("Release name?"),
        "channel": await tracer.choose("Channel?", ["stable", "beta"]),
        "regions": await tracer.choose_many("Regions?", ["eu", "us", "ap"]),
        "count": await tracer.input("How many?", int),
        "ratio": await tracer.input("Ratio?", float),
        "day": await tracer.input("Which day?", date),
        "sure": await tracer.input("Sure?", bool, timeout=60),
        "second_opinion": await tracer.approve("Really?", comment=False),
    }


@app.flow("panel")
async def panel(inputs: dict[str, Any], tracer: Tracer) -> Any:
    try:
        return await tracer.lock(
            "panel", quorum=inputs.get("quorum", 2), veto=inputs.get("veto", True), snooze=60
        )
    except LockRejected as exc:
        return {"rejected_by": exc.by}


@app.lock("panel")
def panel_form(data: dict[str, Any]) -> Model:
    return Model(InputNumber("score", "Score", required=True), Submit("Approve"), Cancel("Reject"))


@app.lease("panel")
def panel_lease(inputs: dict[str, Any], responses: list[Response]) -> dict[str, Any]:
    """Sees every response: the average of the approvals' scores, and who declined."""
    if inputs["score"] > 10:
        raise InputsError(score="At most 10")
    scores = [r.inputs["score"] for r in responses if r.approved]
    return {
        "mean": sum(scores) / len(scores),
        "approvers": [r.user for r in responses if r.approved],
        "declined": [r.user for r in responses if not r.approved],
    }


@app.flow("managed", admins=["UADMIN", "SREVIEW"])
async def managed(tracer: Tracer) -> Any:
    return await tracer.lock("final", approvers=["UAPPROVER"], snooze=60)


@app.flow("slow_after")
async def slow_after(inputs: dict[str, Any], tracer: Tracer) -> Any:
    """A lock, then a step that takes ``inputs["seconds"]``: the decision is shown meanwhile."""
    answer = await tracer.lock("final")

    async def work() -> str:
        await asyncio.sleep(inputs["seconds"])
        return "done"

    return {"answer": answer, "work": await tracer.step("work", work)}


@app.flow("echo")
async def echo(inputs: dict[str, Any], tracer: Tracer) -> Any:
    """Hands back what it was given, through a step and across a lock (so by a replay)."""
    stepped = await tracer.step("copy", lambda: inputs["given"])
    await tracer.lock("final")
    return {"inputs": inputs["given"], "step": stepped}


class Unreadable(Exception):
    """An exception whose message cannot be read (its ``__str__`` itself fails)."""

    def __str__(self) -> str:
        raise RuntimeError("no message")


@app.flow("unreadable")
async def unreadable(inputs: dict[str, Any], tracer: Tracer) -> Any:
    async def fails() -> None:
        raise Unreadable()

    if inputs.get("in_step"):
        try:
            await tracer.step("fails", fails)
        except Exception as exc:
            return type(exc).__name__
    raise Unreadable()


@app.flow("kept_snoozable")
async def kept_snoozable(tracer: Tracer) -> Any:
    return await tracer.lock("final", timeout=60, remind=30, on_timeout="keep", snooze=600)


@app.flow("zero_naps")
async def zero_naps(tracer: Tracer) -> str:
    await tracer.sleep(0)
    await tracer.sleep(timedelta(0))  # no time either: no sleep
    return "awake"


@app.flow("chatty")
async def chatty(tracer: Tracer) -> Any:
    return await tracer.lock("final", timeout=100, remind=1)  # 99 reminders: over the cap
