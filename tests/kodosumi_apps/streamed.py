"""A kodosumi service whose run a client follows on kodosumi's event stream
(``/outputs/stream/{fid}``): debug, Markdown, a printed line, a lock, a result, the final."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.core import forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()

form = F.Model(
    F.Markdown("# Event Stream Demo"),
    F.InputText(label="Name", name="name", required=True),
    F.Submit("Start"),
    F.Cancel("Cancel"),
)


@app.enter(
    path="/",
    model=form,
    summary="Event Stream Demo",
    description="Follows a run on the event stream.",
    tags=["demo", "stream"],
    author="ops@example.com",
    version="0.2.0",
)
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, "tests.kodosumi_apps.streamed:runner", inputs=inputs)


async def runner(inputs: dict, tracer: Tracer) -> dict:
    await tracer.debug(f"starting for {inputs['name']}")
    await tracer.markdown("# Working\nplease wait")
    print("printed by the flow")
    answer = await tracer.lock("confirm", data={"name": inputs["name"]})
    await tracer.result({"confirmed": answer["ok"]})
    return {"name": inputs["name"], "confirmed": answer["ok"]}


@app.lock("confirm")
async def confirm(data: dict) -> F.Model:
    return F.Model(F.Markdown(f"Confirm {data['name']}?"), F.Checkbox("ok", option="OK"),
                   F.Submit("Yes"))  # fmt: skip
