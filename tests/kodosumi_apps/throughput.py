"""A callable entry point with converted inputs; validation collected with ``add`` and raised
only ``if error.has_errors()``; output by ``tracer.markdown`` and ``print()``; a Markdown
result built through ``core.response``."""

from typing import Any

# kodosumi: import kodosumi.core as core
import flows as core

app = core.ServeAPI()

model = core.forms.Model(
    core.forms.Markdown("# Throughput Test"),
    core.forms.InputText(label="Messages", name="messages", placeholder="3"),
    core.forms.InputText(label="Rate (per second)", name="rate", placeholder="10.0"),
    core.forms.Submit("Run"),
)


@app.enter("/throughput", model=model, summary="Throughput Test")
async def enter(request: Any, inputs: dict) -> Any:
    error = core.InputsError()
    values = {}
    for key, default in (("messages", 3.0), ("rate", 10.0)):
        text = inputs.get(key, "").strip()
        try:
            values[key] = float(text) if text else default
        except ValueError:
            error.add(**{key: f"{key} must be a number"})
    if error.has_errors():
        raise error
    return core.Launch(request, execute, inputs=values)


async def execute(inputs: dict, tracer: core.Tracer) -> Any:
    for i in range(int(inputs["messages"])):
        await tracer.markdown(f"markdown {i}")
        print(f"stdout {i}")
    return core.response.Markdown(f"Sent {int(inputs['messages'])} messages.")
