"""A third party's app: a deep path, a required password with a pattern, and ``Tracer`` from
the runner's module."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, InputsError, forms as F
# kodosumi: from kodosumi.runner.tracer import Tracer
from flows import InputsError, Launch, ServeAPI
from flows import forms as F
from flows.tracer import Tracer

app = ServeAPI()

model = F.Model(
    F.Markdown("# Financial report"),
    F.InputText(label="Account", name="account", required=True),
    F.InputPassword(label="API key", name="api_key", required=True, pattern=r"sk-[a-z0-9]{6}"),
    F.Submit("Report"),
)


@app.enter("/wise/financial-report", model=model, summary="Wise financial report")
async def enter(request: Any, inputs: dict) -> Any:
    error = InputsError()
    if inputs["account"].startswith(" "):
        error.add(account="No leading spaces")
    if error.has_errors():
        raise error
    return Launch(request, "tests.kodosumi_apps.wise:run_financial_report", inputs=inputs)


async def run_financial_report(inputs: dict, tracer: Tracer) -> dict:
    await tracer.debug(f"report for {inputs['account']}")
    async with tracer.fs() as fs:  # without await, as this app has it
        uploaded = await fs.ls("in")
    return {"account": inputs["account"], "key_length": len(inputs["api_key"]), "in": uploaded}
