"""The timer workload's flow: one approval lock whose deadline is an absolute time.

An absolute ``due_at`` (rather than a timeout) lets a thousand starts, spread over seconds,
share one deadline. At the deadline the lock expires and the flow finishes with ``"expired"``.
"""

from __future__ import annotations

import time
from typing import Any

from flows import FlowApp, LockExpired, Tracer
from flows.forms import Checkbox, InputText, Markdown, Model, Submit

app = FlowApp()
MIN_TIMEOUT = 0.001  # a replay after the deadline recomputes a policy it never uses


@app.flow("deadline", summary="an approval with a deadline")
async def deadline(inputs: dict[str, Any], tracer: Tracer) -> str:
    timeout = max(float(inputs["due_at"]) - time.time(), MIN_TIMEOUT)
    try:
        answer = await tracer.lock("approve", data={"n": inputs["n"]}, timeout=timeout)
    except LockExpired:
        return "expired"
    return "approved" if answer["ok"] else "declined"


@app.lock("approve")
def approve_form(data: dict[str, Any]) -> Model:
    return Model(
        Markdown(f"Approve item {data['n']}?"),
        Checkbox("ok", "Approve"),
        InputText("note", "Note"),
        Submit("Approve"),
    )
