"""The develop guide's news search: a text area and two required dates, parsed by hand from
the strings a form submits; the run gets datetime objects, and writes Markdown, HTML and
``print()`` output."""

from datetime import datetime
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, InputsError, forms as F
from flows import InputsError, Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()

news_model = F.Model(
    F.Markdown("# Search News"),
    F.InputArea(label="Companies", name="texts", placeholder="one per line"),
    F.InputDate(label="Start Date", name="start", required=True),
    F.InputDate(label="End Date", name="end", required=True),
    F.Submit("Submit"),
    F.Cancel("Cancel"),
)


@app.enter("/news", model=news_model, summary="News Search")
async def enter(request: Any, inputs: dict) -> Any:
    texts = [t.strip() for t in inputs.get("texts", "").split("\n") if t.strip()]
    start = datetime.strptime(inputs.get("start"), "%Y-%m-%d")  # type: ignore[arg-type]
    end = datetime.strptime(inputs.get("end"), "%Y-%m-%d")  # type: ignore[arg-type]
    error = InputsError()
    if not texts:
        error.add(texts="Please name at least one company")
    if start > end:
        error.add(start="Start must not be after end")
    if error.has_errors():
        raise error
    return Launch(
        request,
        "tests.kodosumi_apps.news:run_batch",
        inputs={"texts": texts, "start": start, "end": end},
    )


async def run_batch(inputs: dict, tracer: Tracer) -> dict:
    days = (inputs["end"] - inputs["start"]).days
    await tracer.markdown(f"Searching **{len(inputs['texts'])}** companies over {days} days")
    await tracer.html("<div class='large-divider'></div>")
    print(f"searching {', '.join(inputs['texts'])}")
    return {"companies": inputs["texts"], "days": days, "from": inputs["start"].date().isoformat()}
