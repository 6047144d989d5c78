"""A crew as the entry point: a module-level object with ``kickoff_async``, named by string.
(A stand-in for a CrewAI ``Crew``, which Lockstep drives the way kodosumi does.)"""

import asyncio
import threading
from typing import Any

from pydantic import BaseModel

# kodosumi: import kodosumi.core as core
# kodosumi: from kodosumi.core import ServeAPI, Launch, forms as F
import flows as core
from flows import Launch, ServeAPI
from flows import forms as F


class CrewOutput(BaseModel):
    raw: str
    tasks: int


class Crew:
    """What kodosumi reads of a CrewAI crew: callbacks it sets, and ``kickoff_async``."""

    def __init__(self) -> None:
        self.step_callback: Any = None
        self.task_callback: Any = None

    async def kickoff_async(self, inputs: dict[str, Any]) -> CrewOutput:
        def work() -> None:  # CrewAI calls its callbacks from its worker thread
            self.step_callback(f"thinking about {inputs['topic']}")
            self.task_callback({"task": "write", "thread": threading.current_thread().name})

        await asyncio.to_thread(work)
        return CrewOutput(raw=f"A hymn to {inputs['topic']}", tasks=1)


crew = Crew()
app = ServeAPI()

hymn_model = F.Model(
    F.Markdown("""
        # Hymn Creator
        Give me a topic and I will write a hymn about it.
        """),
    F.Break(),
    F.InputText(label="Topic", name="topic", value="the sea"),
    F.Submit("Submit"),
    F.Cancel("Cancel"),
)


@app.enter(path="/", model=hymn_model, summary="Hymn Creator", organization="Acme")
async def enter(request: Any, inputs: dict) -> Any:
    topic = inputs.get("topic", "").strip()
    if not topic:
        raise core.InputsError(topic="Please give me a topic.")
    return Launch(request, "tests.kodosumi_apps.hymn:crew", inputs=inputs)
