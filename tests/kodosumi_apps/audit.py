"""An audit reviewer as marketplace agents write it, against several kodosumi builds at once:
its form built from a list, the form's ``children`` flattened and assigned back; a global
message given by keyword (``InputsError(_global_=...)``); the ``Launch`` made in a worker
thread."""

import asyncio
import json
from typing import Any

# kodosumi: from kodosumi.service.inputs import forms as F
# kodosumi: from kodosumi.core import ServeAPI, Launch, InputsError
from flows import InputsError, Launch, ServeAPI
from flows import forms as F

app = ServeAPI()
input_elements = [
    F.Markdown("# Audit Reviewer"),
    F.InputArea(label="Scan report (JSON)", name="report"),
    F.Submit("Run Analysis"),
    F.Cancel("Cancel"),
]
try:
    input_form = F.Model(*input_elements)
except TypeError:
    input_form = F.Model(input_elements)
# some builds wrap the children in an extra list: flatten them once
normalized = []
for child in input_form.children:
    normalized.extend(child if isinstance(child, list) else [child])
input_form.children = normalized


async def review(inputs: dict[str, Any], tracer: Any = None) -> dict[str, Any]:
    if tracer is not None and hasattr(tracer, "markdown"):
        await tracer.markdown("### Running the review")
    return {"findings": json.loads(inputs["report"])["total"]}


@app.enter(path="/", model=input_form, summary="Audit Review", tags=["Security"])
async def review_handler(request: Any, inputs: dict[str, Any]) -> Any:
    report = inputs.get("report", "")
    if not report:
        raise InputsError(report="report is required")
    try:
        json.loads(report)["total"]
    except (ValueError, KeyError, TypeError):
        raise InputsError(_global_="The report is not a scan report: paste its JSON.") from None

    def _launch() -> Any:
        return Launch(request, "tests.kodosumi_apps.audit:review", inputs={"report": report})

    return await asyncio.wait_for(asyncio.to_thread(_launch), timeout=20)
