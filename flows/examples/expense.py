"""Expense approval: an amount, a category, and a decision by someone other than whoever filed
it (four-eyes), who may approve less than was asked for."""

from __future__ import annotations

from typing import Any

from flows import FlowApp, InputsError, Launch, Request, Tracer, quote
from flows.forms import (
    Cancel,
    InputNumber,
    InputOption,
    InputText,
    Markdown,
    Model,
    Select,
    Submit,
)

app = FlowApp()
CATEGORIES = [
    InputOption("travel", "Travel"),
    InputOption("meals", "Meals"),
    InputOption("equipment", "Equipment"),
    InputOption("other", "Other"),
]


@app.enter(
    "/expense",
    model=Model(
        InputNumber("amount", "Amount (EUR)", required=True, min_value=0.01, max_value=100_000),
        Select("category", CATEGORIES, "Category", required=True),
        InputText("description", "What was it for?", required=True),
        Submit("Submit expense"),
    ),
    summary="Expense approval",
)
async def start(inputs: dict[str, Any], request: Request) -> Launch:
    if inputs["category"] == "other" and len(inputs["description"]) < 10:
        raise InputsError(description="For 'Other', describe the expense in a sentence.")
    return Launch(request, run, inputs=inputs)


async def run(inputs: dict[str, Any], tracer: Tracer) -> dict[str, Any]:
    # Four-eyes: whoever files the expense may not approve it (a Reject ends the run rejected).
    decision = await tracer.lock("expense_approval", data=inputs, exclude_initiator=True)
    return {"amount": inputs["amount"], "approved_amount": decision["approved_amount"]}


@app.lock("expense_approval")
async def approval_form(data: dict[str, Any]) -> Model:
    return Model(
        Markdown(
            f"# Expense: {data['amount']:.2f} EUR\n{data['category']}: {quote(data['description'])}"
        ),
        InputNumber("approved_amount", "Approved amount", value=data["amount"], min_value=0),
        Submit("Approve"),
        Cancel("Reject"),
    )


@app.lease("expense_approval")
async def approval_lease(inputs: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    approved = (
        inputs["approved_amount"] if inputs["approved_amount"] is not None else data["amount"]
    )
    if approved > data["amount"]:
        raise InputsError(approved_amount="You cannot approve more than was asked for.")
    return {"approved_amount": approved}
