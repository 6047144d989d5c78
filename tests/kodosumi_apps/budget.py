"""A budget sign-off whose lease hands the parser's own exception to ``InputsError``, as
handlers that validate with ``float()`` or pydantic do: ``InputsError(amount=exc)``."""

from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, InputsError
# kodosumi: from kodosumi.service.inputs.forms import Model, InputText, Submit
from flows import InputsError, Launch, ServeAPI, Tracer
from flows.forms import InputText, Model, Submit

app = ServeAPI()


@app.enter("/budget", model=Model(Submit("Start")), summary="Budget sign-off")
async def enter(request: Any) -> Any:
    return Launch(request, sign_off)


async def sign_off(tracer: Tracer) -> Any:
    return await tracer.lock("amount")


@app.lock("amount")
async def amount_form() -> Model:
    return Model(InputText("amount", "Amount (EUR)"), Submit("Sign off"))


@app.lease("amount")
async def amount_lease(inputs: dict) -> dict:
    try:
        amount = float(inputs["amount"])
    except ValueError as exc:
        raise InputsError(amount=exc) from exc
    if amount <= 0:
        raise InputsError().add(amount=amount)  # the value itself as the message
    return {"amount": amount}
