"""Two kodosumi services, each with an "approval" lock of its own (as each would be deployed
as its own app in kodosumi)."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
from flows import Launch, ServeAPI, Tracer
from flows.forms import InputText, Markdown, Model, Submit


async def runner(tracer: Tracer) -> Any:
    return await tracer.lock("approval")


def service(tag: str) -> ServeAPI:
    app = ServeAPI()

    @app.enter(f"/svc-{tag}", model=Model(Submit("Go")))
    async def enter(request: Any) -> Launch:
        return Launch(request, runner)

    @app.lock("approval")
    async def form() -> Model:
        return Model(Markdown(f"Service {tag} approval"), InputText("note", "Note"), Submit("Go"))

    @app.lease("approval")
    async def lease(inputs: dict[str, Any]) -> dict[str, Any]:
        return {"svc": tag, **inputs}

    return app


a, b = service("a"), service("b")
