"""A kodosumi service with routes of its own beside its entry, as FastAPI apps have them (a
health check, an info page, a webhook): they load, unserved, and the entry runs."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.core import forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()


@app.get("/health", summary="Health check", tags=["ops"])
async def health() -> dict:
    return {"status": "ok"}


@app.get("/info", response_model=dict, include_in_schema=False)
def info(request: Any) -> dict:
    return {"service": "extra-routes"}


@app.post("/webhook", status_code=202)
async def webhook(request: Any) -> dict:
    return {"accepted": True}


@app.put("/config")
@app.delete("/config")
@app.patch("/config")
async def config() -> None:
    return None


@app.enter(
    "/",
    model=F.Model(F.InputText(label="Name", name="name"), F.Submit("Go")),
    summary="Extra Routes",
    version="1.0.0",
)
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, runner, inputs=inputs)


async def runner(inputs: dict, tracer: Tracer) -> dict:
    return {"hello": inputs["name"], "health": await health()}
