"""A content check whose lease hands the flow a dataclass (attributes read after the lock),
and runners returning what plain Python code returns: a dataclass, bytes, a date, a UUID."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.service.inputs.forms import Model, InputText, Checkbox, Submit, Cancel
from flows import Launch, ServeAPI, Tracer
from flows.forms import Cancel, Checkbox, InputText, Markdown, Model, Submit

app = ServeAPI()


@dataclass
class Verdict:
    approved: bool
    reviewer: str
    notes: str
    tags: list[str] = field(default_factory=list)


@app.enter(
    "/verdict",
    model=Model(InputText("title", "Title", required=True), Submit("Check")),
    summary="Content verdict",
)
async def enter(inputs: dict, request: Any) -> Any:
    return Launch(request, check, inputs=inputs)


async def check(inputs: dict, tracer: Tracer) -> Verdict:
    verdict = await tracer.lock("verdict", data={"title": inputs["title"]})
    await tracer.markdown(f"**{verdict.reviewer}** says: {verdict.notes}")
    return verdict


@app.lock("verdict")
async def verdict_form(data: dict) -> Model:
    return Model(
        Markdown(f"# Check *{data['title']}*"),
        Checkbox(label="Approve", name="approved", option="APPROVE"),
        InputText(label="Notes", name="notes"),
        Submit("Done"),
        Cancel("Reject"),
    )


@app.lease("verdict")
async def verdict_lease(inputs: dict, request: Any) -> Verdict:
    return Verdict(inputs["approved"], request.state.user, inputs["notes"], ["checked"])


@app.enter("/report", model=Model(Submit("Go")), summary="Raw report")
async def report(request: Any) -> Any:
    return Launch(request, raw_report)


async def raw_report(tracer: Tracer) -> bytes:
    return "total: 3 ✓".encode()


@app.enter("/due", model=Model(Submit("Go")), summary="Due date")
async def due(request: Any) -> Any:
    return Launch(request, due_date)


async def due_date(tracer: Tracer) -> date:
    return date(2025, 1, 31)


@app.enter("/ticket", model=Model(Submit("Go")), summary="Ticket")
async def ticket(request: Any) -> Any:
    return Launch(request, open_ticket)


async def open_ticket(tracer: Tracer) -> dict:  # what json.dumps(default=str) would write
    return {"id": UUID("12345678-1234-5678-1234-567812345678"), "cost": Decimal("9.50")}
