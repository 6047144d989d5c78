"""An agent reporting as it goes with ``tracer.result``: a pydantic model its LLM call
returned, an answer that is a string of digits, a plain dict, from async code and from a sync
helper (``result_sync``), a blank line of Markdown as a spacer. kodosumi's clients read each
under its type's name."""

from typing import Any

from pydantic import BaseModel

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.core import forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()


class Finding(BaseModel):
    claim: str
    confidence: float


def check(claim: str, tracer: Tracer) -> None:
    tracer.result_sync(Finding(claim=claim, confidence=0.5))
    tracer.result_sync("7")


async def runner(inputs: dict, tracer: Tracer) -> Finding:
    await tracer.result(Finding(claim=inputs["claim"], confidence=0.9))
    await tracer.result("42", {"tokens": 12})
    await tracer.markdown("")  # a spacer in kodosumi's page
    await tracer.action("true")
    check(inputs["claim"], tracer)
    return Finding(claim=inputs["claim"], confidence=1.0)


form = F.Model(F.InputText(label="Claim", name="claim"), F.Submit("Check"))


@app.enter("/", model=form, summary="Fact Checker")
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, runner, inputs=inputs)
