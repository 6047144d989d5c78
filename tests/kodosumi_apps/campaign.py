"""A marketing-campaign generator as LangGraph apps write it: each generated graphic is shown
the moment it is ready as an inline ``<img>`` with a data URI (``tracer.html``), between
Markdown progress lines; the images are far larger than any message."""

import base64
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()
IMAGE = base64.b64encode(bytes(range(256)) * 200).decode()  # ~68 kB as a data URI


async def runner(inputs: dict, tracer: Tracer) -> dict:
    count = int(inputs["graphics"] or 2)
    for n in range(1, count + 1):
        await tracer.markdown(f"✅ Generated graphic {n}/{count}")
        await tracer.html(
            f'<img src="data:image/png;base64,{IMAGE}" style="max-width: 600px;" />'
            f"<p>Graphic <b>{n}</b> for {inputs['brand']}</p>"
        )
    return {"graphics": count}


@app.enter(
    "/campaign",
    model=F.Model(
        F.InputText(label="Brand", name="brand", required=True),
        F.InputNumber(label="Graphics", name="graphics", min_value=1, max_value=5),
        F.Submit("Generate"),
    ),
    summary="Campaign Generator",
)
async def enter(request: Any, inputs: dict) -> Launch:
    return Launch(request, runner, inputs=inputs)
