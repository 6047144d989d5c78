"""Enter handlers whose ``Launch`` carries no inputs, or a pydantic model, as kodosumi allows."""

from typing import Any

from pydantic import BaseModel

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
from flows import Launch, ServeAPI, Tracer
from flows.forms import InputText, Model, Submit

app = ServeAPI()
TOPIC = Model(InputText("topic", "Topic"), Submit("Go"))


class Job(BaseModel):
    topic: str


@app.enter(
    "/no-inputs", model=TOPIC, summary="No inputs", tags=["demo"], author="ops@example.com",
    version="1.2",
)  # fmt: skip
async def no_inputs(request: Any, inputs: dict) -> Any:
    return Launch(request, runner)


@app.enter("/as-model", model=TOPIC, summary="As model")
async def as_model(request: Any, inputs: dict) -> Any:
    return Launch(request, runner, inputs=Job(topic=inputs["topic"]))


async def runner(inputs: Any, tracer: Tracer) -> dict:
    return {"got": repr(inputs)}


@app.enter("/model-result", model=TOPIC, summary="A model as the result")
async def model_result(request: Any, inputs: dict) -> Any:
    return Launch(request, as_job, inputs=inputs)


async def as_job(inputs: dict, tracer: Tracer) -> Job:
    return Job(topic=inputs["topic"])


@app.enter("/whoami", model=Model(Submit("Go")), summary="Who asks")
async def whoami(request: Any) -> Any:
    return Launch(request, echo, inputs={"by": request.state.user})  # kodosumi's middleware


async def echo(inputs: dict) -> dict:
    return inputs
