"""The locks guide: an approval at "/" (a checkbox with an option, a lease that insists on
it) and a document review at "/review" with two locks, the second reading the first's
result, validated with ``add``/``has_errors``."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, InputsError
# kodosumi: from kodosumi.core import forms as F
from flows import InputsError, Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()


@app.enter("/", model=F.Model(F.InputText("topic", "Topic"), F.Submit("Go")), summary="Approval")
async def post(inputs: dict, request: Any) -> Any:
    return Launch(request, approval_flow, inputs=inputs)


async def approval_flow(inputs: dict, tracer: Tracer) -> dict:
    approval = await tracer.lock("approval-lock", data={"topic": inputs["topic"]}, timeout=300)
    return {"approved": approval["approved"], "comments": approval["comments"]}


@app.lock("approval-lock")
async def approval_form(data: dict) -> F.Model:
    return F.Model(
        F.Markdown(f"# Approve {data['topic']}?"),
        F.Checkbox(label="Approve", name="approve", option="APPROVE"),
        F.InputText(label="Comments", name="comments"),
        F.Submit("Approve"),
        F.Cancel("Reject"),
    )


@app.lease("approval-lock")
async def approval_lease(inputs: dict) -> dict:
    if not inputs.get("approve"):
        raise InputsError(approve="Approval is required")
    return {"approved": True, "comments": inputs.get("comments", "")}


@app.enter(
    "/review",
    model=F.Model(F.InputText("document", "Document", required=True), F.Submit("Review")),
    summary="Document Review Workflow",
)
async def review(inputs: dict, request: Any) -> Any:
    return Launch(request, review_flow, inputs=inputs)


async def review_flow(inputs: dict, tracer: Tracer) -> dict:
    content = await tracer.lock("content-review", data={"document": inputs["document"]})
    final = await tracer.lock(
        "final-review", data={"document": inputs["document"], "content_approved": content}
    )
    return {"content": content, "final": final}


@app.lock("content-review")
async def content_form(data: dict) -> F.Model:
    return F.Model(
        F.Markdown(f"# Review {data['document']}"),
        F.Checkbox(label="Accurate", name="accurate", option="Content is accurate"),
        F.Checkbox(label="Grammar", name="grammar", option="Grammar is fine"),
        F.InputText(label="Notes", name="notes"),
        F.Submit("Approve"),
        F.Cancel("Reject"),
    )


@app.lease("content-review")
async def content_lease(inputs: dict) -> dict:
    error = InputsError()
    if not inputs.get("accurate"):
        error.add(accurate="Please confirm the content is accurate")
    if not inputs.get("grammar"):
        error.add(grammar="Please confirm the grammar")
    if error.has_errors():
        raise error
    return {"approved": True, "notes": inputs["notes"]}


@app.lock("final-review")
async def final_form(data: dict) -> F.Model:
    state = "approved" if data["content_approved"]["approved"] else "not approved"
    return F.Model(F.Markdown(f"Content {state}. Publish?"), F.Submit("Publish"))
