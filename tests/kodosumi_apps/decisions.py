"""Decisions as kodosumi apps make them: approve or reject with two ``Action`` buttons
(kodosumi's Cancel only goes back), and a lock whose timeout the flow catches."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, InputsError
from flows import InputsError, Launch, ServeAPI, Tracer
from flows.forms import Action, Cancel, InputText, Markdown, Model, Submit

app = ServeAPI()


@app.enter("/go-no-go", model=Model(InputText("service", "Service"), Submit("Go")))
async def enter(inputs: dict, request: Any) -> Launch:
    return Launch(request, deploy, inputs=inputs)


@app.enter("/patient", model=Model(Submit("Go")))
async def patient(request: Any) -> Launch:
    return Launch(request, waits)


async def deploy(inputs: dict, tracer: Tracer) -> dict:
    decision = await tracer.lock("go-no-go", data=inputs)
    return {"deployed": decision["decision"] == "approve", "reason": decision["reason"]}


@app.lock("go-no-go")
async def form(data: dict) -> Model:
    return Model(
        Markdown(f"Deploy **{data['service']}**?"),
        InputText("reason", "Reason"),
        Action(name="decision", value="approve", text="Approve"),
        Action(name="decision", value="reject", text="Reject"),
        Cancel("Back"),
    )


@app.lease("go-no-go")
async def lease(inputs: dict) -> dict:
    if inputs["decision"] is None:
        raise InputsError(decision="Press Approve or Reject")
    return {"decision": inputs["decision"], "reason": inputs["reason"]}


async def waits(inputs: Any, tracer: Tracer) -> str:
    try:
        return await tracer.lock("quick", timeout=5)
    except TimeoutError:
        return "fallback"


@app.lock("quick")
async def quick() -> Model:
    return Model(InputText("note", "Note"), Submit("Send"))
