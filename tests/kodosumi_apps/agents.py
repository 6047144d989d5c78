"""An agent service written as a class, as LLM-agent apps often are: its entry launches a
module-level agent's bound method (``Launch(request, agent.run, ...)``), which waits at a lock
and reads the agent's own state after it; and a classmethod runner."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.service.inputs.forms import Model, InputText, Submit, Cancel
from flows import Launch, ServeAPI, Tracer
from flows.forms import Cancel, InputText, Markdown, Model, Submit

app = ServeAPI()


class ResearchAgent:
    def __init__(self, role: str, model: str) -> None:
        self.role = role
        self.model = model

    async def run(self, inputs: dict, tracer: Tracer) -> dict:
        await tracer.debug(f"{self.role} ({self.model}) starts on {inputs['topic']}")
        brief = await tracer.lock("brief", data={"topic": inputs["topic"], "role": self.role})
        return {"role": self.role, "topic": inputs["topic"], "focus": brief["focus"]}

    @classmethod
    async def quick(cls, inputs: dict, tracer: Tracer) -> dict:
        return {"agent": cls.__name__, "topic": inputs["topic"]}


analyst = ResearchAgent("analyst", "gpt-4o")
TOPIC = Model(InputText("topic", "Topic", required=True), Submit("Research"))


@app.enter("/research", model=TOPIC, summary="Research agent")
async def research(request: Any, inputs: dict) -> Any:
    return Launch(request, analyst.run, inputs=inputs)


@app.enter("/quick", model=TOPIC, summary="Quick agent")
async def quick(request: Any, inputs: dict) -> Any:
    return Launch(request, ResearchAgent.quick, inputs=inputs)


@app.lock("brief")
async def brief(data: dict) -> Model:
    return Model(
        Markdown(f"# Brief the {data['role']} on {data['topic']}"),
        InputText("focus", "Focus"),
        Submit("Go"),
        Cancel("Stop"),
    )
