"""Deploy approval: someone other than the requester approves or rejects a deploy, with a
comment. The service and version are checked against patterns, so the flow may quote them."""

from __future__ import annotations

from typing import Any

from flows import FlowApp, LockRejected, Tracer
from flows.forms import Cancel, InputOption, InputText, Markdown, Model, Select, Submit

app = FlowApp()


@app.flow(
    "deploy",
    model=Model(
        InputText("service", "Service", required=True, pattern=r"[a-z0-9][a-z0-9-]*"),
        InputText("version", "Version", required=True, pattern=r"[0-9A-Za-z][0-9A-Za-z.+-]*"),
        Select(
            "environment",
            [InputOption("staging", "Staging"), InputOption("production", "Production", True)],
            "Environment",
        ),
        Submit("Request approval"),
    ),
    summary="Deploy approval",
)
async def deploy(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    try:
        await tracer.lock("deploy_approval", data=inputs, timeout=3600, exclude_initiator=True)
    except LockRejected:
        await tracer.warning(f"{inputs['service']} {inputs['version']} will not be deployed.")
        return {"deployed": False}  # the thread says who rejected it, and their comment
    await tracer.markdown(f"Deploying {inputs['service']} {inputs['version']}…")
    return {"deployed": True}  # the approval, and its comment, show on the approval itself


@app.lock("deploy_approval")
async def approval_form(data: dict[str, Any]) -> Model:
    return Model(
        Markdown(
            f"# Deploy approval\nDeploy *{data['service']}* `{data['version']}` "
            f"to *{data.get('environment') or 'production'}*?"
        ),
        InputText("comment", "Comment"),
        Submit("Approve"),
        Cancel("Reject"),
    )
