"""As kodosumi's own execution tests: entries at "/" and "/much/deeper", a runner that prints
and waits at locks; a lock handler with no parameters, one reading ``data``; a lease echoing
its inputs, one validating a checkbox named with a Python keyword; a lock that times out."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, InputsError
# kodosumi: from kodosumi.service.inputs.forms import Model, Markdown, Checkbox, ...
from flows import InputsError, Launch, ServeAPI, Tracer
from flows.forms import Action, Cancel, Checkbox, InputText, Markdown, Model, Submit

app = ServeAPI()
leased: list[dict[str, Any]] = []


@app.enter("/", model=Model(InputText("name", "Name"), Submit("Go")), summary="Execution test")
async def enter(inputs: dict, request: Any) -> Any:
    return Launch(request, runner, inputs=inputs)


@app.enter("/much/deeper", model=Model(InputText("name", "Name"), Submit("Go")))
def deeper(request: Any, inputs: dict) -> Any:  # a sync handler
    return Launch(request, "tests.kodosumi_apps.execution:validated", inputs=inputs)


@app.enter("/timeout", model=Model(Submit("Go")), summary="Times out")
async def timing_out(request: Any) -> Any:
    return Launch(request, expiring)


async def runner(inputs: dict, tracer: Tracer) -> dict:
    await tracer.debug("runner started")
    print("hello from print")
    result = await tracer.lock("lock-1", data={"hello": "from runner"})
    second = await tracer.lock("lock-2", data={"hello": "world"})
    return {"lock-result": result, "second": second}


@app.lock("lock-1")
async def lock_1() -> Model:
    return Model(Markdown("# hello world"), InputText("note", "Note"), Submit("yes"), Cancel("no"))


@app.lease("lock-1")
async def lease_1(inputs: dict) -> dict:
    leased.append(dict(inputs))
    return {"phase": "lease-1", "inputs": inputs}


@app.lock("lock-2")
def lock_2(data: dict) -> Model:
    return Model(
        Markdown(f"# hello {data['hello']}"),
        Action(name="choice", value="left", text="Go left"),
        Action(name="choice", value="right", text="Go right"),
        Submit("ok"),
    )


async def validated(inputs: dict, tracer: Tracer) -> Any:
    return await tracer.lock("lock-validate")


@app.lock("lock-validate")
async def lock_validate(data: Any, request: Any) -> Model:
    return Model(
        Markdown(f"Started by {request.user}; data is {data!r}"),
        Checkbox(label="Continue", name="continue", option="CONTINUE"),
        InputText(label="Name", name="name"),
        Submit("yes"),
        Cancel("no"),
    )


@app.lease("lock-validate")
async def lease_validate(inputs: dict, request: Any) -> dict:
    error = InputsError()
    if not inputs.get("continue"):
        error.add(**{"continue": "You must tick continue"})
    if inputs.get("name") != "yes":
        error.add(name="Name must be yes")
    if error.has_errors():
        raise error
    return {"continue": inputs["continue"], "name": inputs["name"], "by": request.user}


async def expiring(inputs: Any, tracer: Tracer) -> Any:
    return await tracer.lock("lock-timeout", timeout=3)


@app.lock("lock-timeout")
async def lock_timeout() -> Model:
    return Model(Markdown("Answer within three seconds"), Submit("ok"))
