"""An app known by two names (``api = app``), as deployments name it: loaded once."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch
from flows import Launch, ServeAPI
from flows.forms import Model, Submit

app = ServeAPI()


@app.enter("/aliased", model=Model(Submit("Go")), summary="Aliased")
async def enter(request: Any) -> Any:
    return Launch(request, done)


async def done() -> str:
    return "done"


api = app
