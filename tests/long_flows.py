"""A flow whose name is longer than Slack takes anywhere in a value (the chooser's options)."""

from __future__ import annotations

from typing import Any

from flows import FlowApp, Tracer

app = FlowApp()
LONG_NAME = "reports/" + "quarterly-" * 16 + "summary"


@app.flow(LONG_NAME, summary="Quarterly summary")
async def quarterly(tracer: Tracer) -> dict[str, Any]:
    return {"done": True}
