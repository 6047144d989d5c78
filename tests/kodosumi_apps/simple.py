"""Errors, text and files: refuses until the text is "yes", launches a dotted entry point,
and the run reads the uploaded files through ``tracer.fs()``."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, InputsError, forms as F
from flows import InputsError, Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()
seen: list[dict[str, Any]] = []

model = F.Model(
    F.Errors(),
    F.InputText(label="Say yes", name="text"),
    F.InputFiles(label="Files", name="files", multiple=True),
    F.Submit("Submit"),
    F.Cancel("Cancel"),
)


@app.enter("/simple", model=model, summary="Simple Example")
async def enter(request: Any, inputs: dict) -> Any:
    seen.append(dict(inputs))
    if inputs["text"] != "yes":
        error = InputsError(f"Not yet.<br/>You sent {sorted(inputs)}")
        error.add(text="you must say _yes_")
        raise error
    return Launch(request, "tests.kodosumi_apps.simple.runner", inputs=inputs)


async def runner(inputs: dict, tracer: Tracer) -> dict:
    async with await tracer.fs() as fs:
        listed = await fs.ls("in")
        contents = {}
        for item in listed:
            async with fs.open(item["path"]) as stream:
                contents[item["path"]] = (await stream.read_all()).decode()
    return {"files": sorted(inputs["files"]), "listed": listed, "contents": contents}
