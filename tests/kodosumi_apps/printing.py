"""A flow that reports with ``print()``, as scripts turned agents do: several values in one
call, a line printed in parts (``end=""``) around a Markdown note, and a progress bar redrawn
on stderr (as tqdm draws one)."""

import sys
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()


async def runner(inputs: dict, tracer: Tracer) -> Any:
    print("checked", 3, "sources:", ["a", "b"])
    print("fetching...", end="", flush=True)
    print(" done")
    print("summing", end=" ")
    await tracer.markdown("**note**")  # the part printed so far comes first
    for step in range(3):
        sys.stderr.write(f"\r{step * 50:3d}%|{'#' * step:<2}|")
    sys.stderr.write("\n")
    return "ok"


form = F.Model(F.InputText(label="Topic", name="topic"), F.Submit("Go"))


@app.enter("/", model=form, summary="Printer")
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, runner, inputs=inputs)
