"""A flow whose entry takes as long as it is told: a request that is still under way when the
bot is told to stop (``tests/test_shutdown.py``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from flows import FlowApp, Launch, Tracer
from flows.forms import InputNumber, Model, Submit

app = FlowApp()
log = logging.getLogger("tests.ops_flows")


@app.enter(
    "slow",
    model=Model(InputNumber("seconds", "Seconds", required=True), Submit("Start")),
    summary="Slow start",
)
async def slow(inputs: dict[str, Any], request: Any) -> Launch:
    log.warning("slow entry began")  # the test waits for this line
    await asyncio.sleep(float(inputs["seconds"]))
    return Launch(request, "tests.ops_flows:runner", inputs=inputs)


async def runner(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    return {"waited": inputs["seconds"]}
