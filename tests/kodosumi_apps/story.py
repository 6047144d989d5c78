"""A crew whose output is what CrewAI's is: a ``CrewOutput`` with the final answer in Markdown
(``raw``), each task's ``TaskOutput`` (handed to its ``task_callback`` as the task ends) and
the token usage; its agents' steps, plain objects, handed to its ``step_callback``; its
``verbose`` lines, printed in a terminal's colours. kodosumi's page shows such an output as the
Markdown of its ``raw`` text."""

from typing import Any

from pydantic import BaseModel

# kodosumi: from kodosumi.core import ServeAPI, Launch, forms as F
from flows import Launch, ServeAPI
from flows import forms as F


class TaskOutput(BaseModel):
    description: str
    name: str | None = None
    raw: str = ""
    agent: str


class CrewOutput(BaseModel):
    raw: str = ""
    json_dict: dict[str, Any] | None = None
    tasks_output: list[TaskOutput] = []
    token_usage: dict[str, int] = {}


class AgentAction:
    """CrewAI's agent step, a plain class (no pydantic, no dataclass)."""

    def __init__(self, thought: str, tool: str, tool_input: str, text: str) -> None:
        self.thought, self.tool, self.tool_input, self.text = thought, tool, tool_input, text
        self.result = ""


class AgentFinish:
    def __init__(self, thought: str, output: str, text: str) -> None:
        self.thought, self.output, self.text = thought, output, text


class Crew:
    """What kodosumi reads of a CrewAI crew: the callbacks it sets, and ``kickoff_async``."""

    def __init__(self) -> None:
        self.step_callback: Any = None
        self.task_callback: Any = None

    async def kickoff_async(self, inputs: dict[str, Any]) -> CrewOutput:
        story = f"# A Story of {inputs['topic']}\n\n**Chapter 1**\nOnce upon a *time*:\n- a sea"
        task = TaskOutput(description="Write the story", name="Story", raw=story, agent="Writer")
        print("\x1b[1m\x1b[95m# Agent:\x1b[00m \x1b[1m\x1b[92mWriter\x1b[00m")  # verbose=True
        self.step_callback(AgentAction("look it up", "search", '{"q": "sea"}', "..."))
        self.step_callback(AgentFinish("done", "**Found** 3 tales", "Final Answer: ..."))
        self.task_callback(task)  # CrewAI calls it as each task ends
        return CrewOutput(raw=story, tasks_output=[task], token_usage={"total_tokens": 812})


crew = Crew()
app = ServeAPI()

form = F.Model(F.InputText(label="Topic", name="topic"), F.Submit("Write"))


@app.enter(path="/", model=form, summary="Story Writer")
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, "tests.kodosumi_apps.story:crew", inputs=inputs)
