"""As kodosumi's own execution tests build their apps: in a factory (uvicorn's
``module:app_factory``), handlers defined inside it, the runner named by string."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.service.inputs.forms import Model, InputText, Checkbox, ...
from flows import Launch, ServeAPI, Tracer
from flows.forms import Cancel, Checkbox, InputText, Markdown, Model, Submit


async def runner(inputs: dict, tracer: Tracer) -> dict:
    await tracer.debug("this is a debug message")
    print("this is stdout")
    result = await tracer.lock("lock-1", data={"hello": "from runner", "inputs": inputs})
    return {"lock-result": result}


def app_factory() -> ServeAPI:
    app = ServeAPI()
    form_model = Model(
        InputText(label="Name", name="name", placeholder="Enter your name"),
        Checkbox(label="Active", name="active", option="ACTIVE", value=False),
        Submit("Submit"),
        Cancel("Cancel"),
    )

    @app.enter("/", model=form_model, summary="Factory Example", tags=["flow"],
               organization="Factory Organization", author="Factory Author",
               deprecated=False, description="Factory Description")  # fmt: skip
    async def post(inputs: dict, request: Any) -> Any:
        return Launch(request, "tests.kodosumi_apps.factory:runner", inputs=inputs)

    @app.lock("lock-1")
    async def lock_1(data: dict) -> Model:
        return Model(
            Markdown(f"# hello world {data['hello']}"),
            Checkbox(label="Continue", name="continue", option="CONTINUE", value=False),
            Submit("yes"),
            Cancel("no"),
        )

    @app.lease("lock-1")
    async def lease_1(inputs: dict) -> dict:
        return {"phase": "lease-1", "inputs": inputs}

    return app
