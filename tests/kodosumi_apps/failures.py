"""Apps that go wrong at their entry, as real ones do, and a form with no inputs whose handler
answers with global messages only."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, InputsError, forms as F
from flows import InputsError, Launch, ServeAPI
from flows import forms as F

app = ServeAPI()
text = F.Model(F.InputText("x", "X"), F.Submit("Go"))


@app.enter("/raises", model=text, summary="Raises")
async def raises(request: Any, inputs: dict) -> Any:
    raise RuntimeError("the database password is hunter2")  # never shown to the person


@app.enter("/no-launch", model=text, summary="Returns no Launch")
async def no_launch(request: Any, inputs: dict) -> Any:
    return {"fid": "not a launch"}


@app.enter("/bad-entry", model=text, summary="Bad entry point")
async def bad_entry(request: Any, inputs: dict) -> Any:
    return Launch(request, "tests.kodosumi_apps.failures.no_such_runner", inputs=inputs)


@app.enter(
    "/confirm",
    model=F.Model(F.Markdown("Nothing to fill in: just confirm."), F.Submit("Confirm")),
    summary="Confirm only",
)
async def confirm(request: Any, inputs: dict) -> Any:
    error = InputsError("Not today.")
    error.flash("Try again tomorrow.")
    raise error


@app.enter("/at-once", summary="Starts at once")  # no form: starts straight from /flow start
async def at_once(request: Any) -> Any:
    return Launch(request, "tests.kodosumi_apps.failures:gone")
