"""Many mock services made in a loop: ``f"/{i}"`` paths, the model positional, ``Launch`` with
positional inputs and an explicit ``reference``."""

from typing import Any

# kodosumi: import kodosumi.core as core
# kodosumi: from kodosumi.core import forms as F
import flows as core
from flows import forms as F


def create_app(count: int) -> core.ServeAPI:
    app = core.ServeAPI()
    model = F.Model(F.InputText(label="Query", name="query"), F.Submit("Go"))
    for i in range(count):

        @app.enter(f"/{i}", model, summary=f"Mock service {i}", description=f"mock {i}")
        async def enter(request: Any, inputs: dict) -> Any:
            return core.Launch(request, runner, inputs, reference=enter)

    return app


async def runner(inputs: dict, tracer: core.Tracer) -> Any:
    return core.response.Markdown("done")


mock_app = create_app(3)
