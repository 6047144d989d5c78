"""A human-in-the-loop demo: an entry at "/", a lock with no data whose form is built by a
handler taking ``(request, inputs=None)``, no lease, a Markdown result."""

from typing import Any, Optional

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.service.inputs.forms import Model, InputText, ...
# kodosumi: from kodosumi import response
from flows import Launch, ServeAPI, Tracer, response
from flows.forms import Cancel, InputArea, InputOption, InputText, Markdown, Model, Select, Submit

app = ServeAPI()

form = Model(
    Markdown("# Simple HITL Demo\nTell me your name, then rate the result."),
    InputText(label="Name", name="name", placeholder="Your name"),
    InputArea(label="Notes", name="notes"),
    Submit("Start"),
    Cancel("Cancel"),
)


@app.enter(
    path="/",
    model=form,
    summary="Simple HITL Demo",
    description="Asks for feedback half-way.",
    version="1.0.0",
    author="someone@example.com",
    tags=["HITL"],
)
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, "tests.kodosumi_apps.hitl:simple_hitl_demo", inputs=inputs)


async def simple_hitl_demo(inputs: dict, tracer: Tracer) -> Any:
    await tracer.markdown(f"Hello **{inputs['name'] or 'stranger'}**.")
    await tracer.markdown("Working...", "Still working.")
    await tracer.markdown("Done: now your feedback, please.")
    feedback = await tracer.lock("simple_feedback")
    rating, comment = feedback.get("rating"), feedback.get("comment")
    return response.Markdown(f"## Thanks\nYou rated it *{rating}*: {comment or 'no comment'}")


@app.lock(name="simple_feedback")
async def collect_feedback(request: Any, inputs: Optional[dict] = None) -> Model:  # noqa: UP045
    return Model(
        Markdown("How was it?"),
        Select(
            "rating",
            [
                InputOption("good", "👍 Good"),
                InputOption("ok", "👌 OK"),
                InputOption("bad", "👎 Bad"),
            ],
            label="Rating",
        ),
        InputArea(label="Comment", name="comment", required=False),
        Submit("Send"),
    )
