"""Document review: a content review, then a final review by someone other than the author
who started it (four-eyes)."""

from __future__ import annotations

from typing import Any

from flows import FlowApp, InputsError, Launch, Request, Tracer, quote
from flows.forms import Cancel, Checkbox, InputArea, InputNumber, InputText, Markdown, Model, Submit

app = FlowApp()


@app.enter(
    "/review",
    model=Model(
        InputText("document", "Document (title or link)", required=True),
        InputText("author", "Author"),
        Submit("Start review"),
    ),
    summary="Document review",
    description="Two people review a document: content first, then a final sign-off.",
)
async def start(inputs: dict[str, Any], request: Request) -> Launch:
    return Launch(request, run, inputs=inputs)


async def run(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    await tracer.markdown(f"Review of *{quote(inputs['document'])}* has started.")
    content = await tracer.lock("content_review", data={"document": inputs["document"]})
    await tracer.debug(f"Content review scored {content['score']}/5.")
    final = await tracer.lock("final_review", data={**inputs, **content}, exclude_initiator=True)
    return {
        "document": inputs["document"],
        "score": content["score"],
        "published": final["publish"],
    }


@app.lock("content_review")
async def content_form(data: dict[str, Any]) -> Model:
    return Model(
        Markdown(f"# Content review\nPlease review *{quote(data['document'])}*."),
        InputNumber("score", "Score (1 to 5)", required=True, min_value=1, max_value=5, step=1),
        InputArea("comments", "Comments", max_length=2000),
        Submit("Approve"),
        Cancel("Reject"),
    )


@app.lease("content_review")
async def content_lease(inputs: dict[str, Any]) -> dict[str, Any]:
    if inputs["score"] < 3 and not inputs["comments"]:
        raise InputsError(comments="Please explain a score below 3.")
    return {"score": inputs["score"], "comments": inputs["comments"]}


@app.lock("final_review")
async def final_form(data: dict[str, Any]) -> Model:
    return Model(
        Markdown(f"# Final review\n*{quote(data['document'])}* scored {data['score']}/5."),
        Checkbox("publish", "Publish it now", "Publish"),
        Submit("Sign off"),
        Cancel("Reject"),
    )
