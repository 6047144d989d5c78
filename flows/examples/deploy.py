"""Deploy approval: someone approves or rejects a deploy, with a comment."""

from __future__ import annotations

from typing import Any

from flows import FlowApp, LockRejected, Tracer
from flows.forms import Cancel, InputOption, InputText, Markdown, Model, Select, Submit

app = FlowApp()


@app.flow(
    "deploy",
    model=Model(
        InputText("service", "Service", required=True, pattern=r"[a-z0-9][a-z0-9-]*"),
        InputText("version", "Version", required=True),
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
        answer = await tracer.lock("deploy_approval", data=inputs, timeout=3600)
    except LockRejected as rejected:
        await tracer.warning(f"Deploy rejected: {rejected.comment or 'no comment'}")
        return {"deployed": False, "by": rejected.by}
    await tracer.markdown(f"Deploying {inputs['service']} {inputs['version']}…")
    return {"deployed": True, "comment": answer["comment"]}


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
