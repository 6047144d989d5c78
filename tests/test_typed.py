"""Forms from pydantic models: the form follows the model, the model validates the answer, and
any model either renders to valid Block Kit or is refused with a message naming the field."""

from __future__ import annotations

import enum
import keyword
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, SecretStr, create_model

from bot.render.blocks import fits_message, message_blocks, modal_view, open_form_blocks
from bot.render.state import read_state
from flows.errors import FlowConfigError, InputsError
from flows.forms import (
    Checkbox,
    InputArea,
    InputDate,
    InputNumber,
    InputPassword,
    InputText,
    Markdown,
    MultiSelect,
    Select,
)
from flows.parse import parse
from flows.typed import form_for, model_path, validate
from tests.test_blocks import assert_valid_message, assert_valid_view, echo_state


class Tier(enum.Enum):
    GOLD = "gold"
    SILVER = "silver"


class Expense(BaseModel):
    title: str = Field(max_length=80, description="What was bought")
    amount: Annotated[float, Field(gt=0, le=5000, title="Amount (EUR)")]
    people: int = Field(default=1, ge=1)
    category: Literal["travel", "food", "hardware"]
    tier: Tier = Tier.SILVER
    tags: list[Literal["urgent", "client"]] = []
    spent_on: date
    receipt: bool = False
    note: str | None = Field(None, min_length=3)
    pin: SecretStr | None = None


def test_the_form_follows_the_model() -> None:
    form = form_for(Expense, "Log an expense")
    elements = {e.name: e for e in form.inputs}
    assert form.elements[0] == Markdown("Log an expense")
    assert elements["title"] == InputArea(
        "title", "Title", required=True, max_length=80, hint="What was bought"
    )
    assert elements["amount"] == InputNumber(
        "amount", "Amount (EUR)", required=True, min_value=0, max_value=5000
    )
    assert elements["people"] == InputNumber("people", "People", 1, min_value=1, step=1)
    category = elements["category"]
    assert isinstance(category, Select) and category.required
    assert [o.name for o in category.option] == ["travel", "food", "hardware"]
    assert elements["tier"].value == "silver" and not elements["tier"].required  # type: ignore[attr-defined]
    assert isinstance(elements["tags"], MultiSelect) and not elements["tags"].required
    assert isinstance(elements["spent_on"], InputDate) and elements["spent_on"].required
    assert isinstance(elements["receipt"], Checkbox)
    assert elements["note"] == InputText("note", "Note")  # optional: it may be None
    assert isinstance(elements["pin"], InputPassword)
    assert_valid_message(message_blocks(form.to_json(), lock_id="L1", title="Expense"))


def test_the_model_validates_and_each_error_lands_under_its_field() -> None:
    form = form_for(Expense)
    raw = {"title": "x" * 81, "amount": "0", "category": "food", "spent_on": "2026-11-20"}
    with pytest.raises(InputsError, match="Use at most 80 characters"):
        parse(form, raw)  # the form's limits hold first
    raw |= {"title": "Train", "note": "ok"}
    values = parse(form, raw)  # the form's own checks pass ...
    with pytest.raises(InputsError) as caught:
        validate(values, {"model": model_path(Expense)})  # ... the model's do not
    errors = caught.value.wire()
    assert errors["amount"] == ["Input should be greater than 0"]
    assert errors["note"] == ["String should have at least 3 characters"]
    assert set(errors) == {"amount", "note", "_global_"}

    good = parse(form, {**raw, "amount": "42.5", "tags": ["client"], "note": ""})
    answer = validate(good, {"model": model_path(Expense)})
    expense = Expense.model_validate(answer)  # what tracer.input hands the flow
    assert expense.amount == 42.5 and expense.people == 1 and expense.tier is Tier.SILVER
    assert expense.tags == ["client"] and expense.spent_on == date(2026, 11, 20)


def test_models_without_a_form_are_refused_naming_the_field() -> None:
    class Address(BaseModel):
        street: str

    class Order(BaseModel):
        item: str
        ship_to: Address

    with pytest.raises(FlowConfigError, match="field 'ship_to' of Order has type Address"):
        form_for(Order)
    with pytest.raises(FlowConfigError, match="must be defined at module level"):
        model_path(Order)
    numbered = create_model("Numbered", level=(Literal[1, 2], ...))
    with pytest.raises(FlowConfigError, match="field 'level' of Numbered has type"):
        form_for(numbered)


# --- property: any model renders, or is refused naming its field -----------------------------

SUPPORTED: list[Any] = [str, int, float, bool, date, datetime, time, SecretStr, Tier]
UNSUPPORTED: list[Any] = [
    dict[str, int], bytes, list[int], list[str], tuple[str, int], Expense, complex,
]  # fmt: skip
texts = st.text(min_size=0, max_size=300)
literals = st.lists(st.text(min_size=1, max_size=120), min_size=1, max_size=120).map(
    lambda values: Literal[tuple(values)]  # type: ignore[valid-type]
)
kinds = st.one_of(
    st.sampled_from(SUPPORTED),
    literals,
    literals.map(lambda lit: list[lit]),  # type: ignore[valid-type]
    st.sampled_from(UNSUPPORTED),
)
names = st.from_regex(r"[a-z][a-z0-9_]{0,80}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n) and n not in dir(BaseModel) and not n.startswith("model_")
)


@st.composite
def fields(draw: st.DrawFn) -> tuple[Any, Any]:
    kind = draw(kinds)
    if draw(st.booleans()):
        kind = kind | None
    extra: dict[str, Any] = {
        "description": draw(st.none() | texts),
        "title": draw(st.none() | texts),
    }
    if kind in (int, float):
        extra |= {"ge": draw(st.none() | st.integers(-(10**9), 10**9))}
    if kind is str:
        extra |= {"max_length": draw(st.none() | st.integers(1, 10_000))}
    default = Field(None, **extra) if draw(st.booleans()) else Field(..., **extra)
    return kind, default


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(names, fields(), min_size=1, max_size=45))
def test_any_model_renders_to_valid_block_kit_or_is_refused_naming_the_field(
    spec: dict[str, tuple[Any, Any]],
) -> None:
    model = create_model("Drawn", **spec)  # type: ignore[call-overload]
    try:
        form = form_for(model, "Fill this in")
    except FlowConfigError as exc:
        message = str(exc)
        if len(spec) > 40:
            assert "at most 40" in message
            return
        named = [n for n in spec if f"field {n!r} of Drawn" in message]
        assert named, message
        kind = spec[named[0]][0]
        assert any(bad in (kind, *getattr(kind, "__args__", ())) for bad in UNSUPPORTED), message
        return
    if fits_message(form.to_json()):  # as a message, or behind an "Open form" button
        blocks = message_blocks(form.to_json(), lock_id="L1", title="Drawn")
    else:
        blocks = open_form_blocks(form.to_json(), lock_id="L1", title="Drawn")
    assert_valid_message(blocks)
    view = modal_view(form.to_json(), title="Drawn", callback_id="cb", private_metadata="L1")
    assert_valid_view(view)
    # What Slack sends back for the untouched form reads into what the parser takes.
    raw = read_state(form.to_json(), echo_state(view["blocks"]))
    assert set(raw) <= {e.name for e in form.inputs}
