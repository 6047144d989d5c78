"""A flow whose lock nudges within seconds, for the tests that kill the bot around its timers."""

from __future__ import annotations

from typing import Any

from flows import FlowApp, Tracer
from flows.forms import Model, Submit

app = FlowApp()


@app.flow("brisk", summary="Brisk approval")
async def brisk(tracer: Tracer) -> Any:
    return await tracer.lock("brisk_form", timeout=600, remind=[598])  # 2 s in


@app.lock("brisk_form")
def brisk_form(data: dict[str, Any]) -> Model:
    return Model(Submit("Approve"))
