"""A kodosumi service set up as the FastAPI app ``ServeAPI`` is: a title and a lifespan, CORS
and a middleware of its own, an exception handler, start-up and shut-down hooks, a router and
static files mounted, settings kept in ``app.state``. None of that is served by Lockstep; the
app loads and its entry runs, reading ``app.state``."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer
# kodosumi: from kodosumi.core import forms as F
from flows import Launch, ServeAPI, Tracer
from flows import forms as F


class CORSMiddleware:  # what ``fastapi.middleware.cors`` would give; no FastAPI here
    def __init__(self, app: Any, **options: Any) -> None:
        self.app, self.options = app, options


class Router:  # an ``APIRouter`` stand-in
    routes: list[Any] = []


class StaticFiles:  # a ``fastapi.staticfiles.StaticFiles`` stand-in
    def __init__(self, directory: str) -> None:
        self.directory = directory


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    yield


app = ServeAPI(title="Greeter", version="2.0", lifespan=lifespan)
app.state.greeting = "Hello"
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
app.include_router(Router(), prefix="/api")
app.mount("/static", StaticFiles(directory="static"), name="static")
app.add_exception_handler(ValueError, lambda request, exc: None)
app.add_event_handler("shutdown", lambda: None)


@app.middleware("http")
async def timing(request: Any, call_next: Any) -> Any:
    return await call_next(request)


@app.exception_handler(KeyError)
async def missing(request: Any, exc: KeyError) -> Any:
    return None


@app.on_event("startup")
async def startup() -> None:
    app.state.started = True


@app.api_route("/ping", methods=["GET", "HEAD"])
async def ping() -> dict:
    return {"pong": True}


@app.websocket("/ws")
async def socket(websocket: Any) -> None:
    return None


@app.enter(
    "/greet",
    model=F.Model(F.InputText(label="Name", name="name"), F.Submit("Greet")),
    summary="Greeter",
)
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, runner, inputs={**inputs, "greeting": app.state.greeting})


async def runner(inputs: dict, tracer: Tracer) -> dict:
    return {"said": f"{inputs['greeting']}, {inputs['name']}", "ping": await ping()}
