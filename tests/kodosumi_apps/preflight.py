"""Script-style code that gives up with ``sys.exit()``, as command-line agents do: a runner
checking its configuration, a sync runner exiting with a code, and a lease that exits."""

import os
import sys
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.service.inputs.forms import Model, InputText, Submit
from flows import Launch, ServeAPI, Tracer
from flows.forms import InputText, Model, Submit

app = ServeAPI()
GO = Model(Submit("Go"))


@app.enter("/preflight", model=GO, summary="Preflight")
async def preflight(request: Any) -> Any:
    return Launch(request, check_config)


async def check_config(tracer: Tracer) -> str:
    await tracer.debug("checking configuration")
    if not os.environ.get("PREFLIGHT_TEST_API_KEY"):
        sys.exit("PREFLIGHT_TEST_API_KEY is not set")
    return "configured"


@app.enter("/batch", model=GO, summary="Batch job")
async def batch(request: Any) -> Any:
    return Launch(request, batch_job)


def batch_job(tracer: Tracer) -> None:
    tracer.debug_sync("batch failed")
    sys.exit(2)


@app.enter("/confirm-exit", model=GO, summary="Confirm")
async def confirm(request: Any) -> Any:
    return Launch(request, confirm_flow)


async def confirm_flow(tracer: Tracer) -> Any:
    return await tracer.lock("confirm")


@app.lock("confirm")
async def confirm_form() -> Model:
    return Model(InputText("word", "Type yes"), Submit("OK"))


@app.lease("confirm")
async def confirm_lease(inputs: dict) -> dict:
    if inputs["word"] != "yes":
        sys.exit("not confirmed")
    return inputs
