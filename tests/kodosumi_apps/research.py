"""A research agent's report, as LLM agents return one: several thousand characters of
Markdown (``response.Markdown``), a long code block of data in it, its conclusion last."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, forms as F
# kodosumi: from kodosumi import response
from flows import Launch, ServeAPI, Tracer, response
from flows import forms as F

app = ServeAPI()


async def runner(inputs: dict, tracer: Tracer) -> Any:
    findings = [f"## Finding {n}\n\n" + f"Source {n} says the market grew. " * 12 for n in range(6)]
    data = "\n".join(f"{year}: {year * 1.5:.1f} units sold that year" for year in range(1900, 2000))
    return response.Markdown(
        f"# Report on {inputs['topic']}",
        *findings,
        f"## Data\n```\n{data}\n```",
        "## Conclusion\n\nBuy.",
    )


form = F.Model(F.InputText(label="Topic", name="topic"), F.Submit("Research"))


@app.enter("/", model=form, summary="Researcher")
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, runner, inputs=inputs)
