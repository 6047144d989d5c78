"""The SDK's kodosumi surface: form JSON, InputsError's wire form, registration rules."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from flows import FlowApp, FlowConfigError, InputsError, ServeAPI
from flows.app import Registry
from flows.forms import (
    Cancel,
    Checkbox,
    Errors,
    InputArea,
    InputDate,
    InputDateTime,
    InputNumber,
    InputOption,
    InputText,
    InputTime,
    Markdown,
    Model,
    MultiSelect,
    Select,
    Submit,
    UserSelect,
)

KODOSUMI_APPROVAL = (
    '[{"type": "markdown", "text": "# Approval"}, {"type": "boolean", "name": "approve", '
    '"label": "Approve", "value": false, "option": "APPROVE"}, {"type": "text", "name": '
    '"comments", "label": "Comments", "value": null, "required": false, "placeholder": null, '
    '"size": null, "pattern": null}, {"type": "submit", "text": "Approve"}, {"type": "cancel", '
    '"text": "Reject"}]'
)


def test_model_serialises_to_kodosumi_json() -> None:
    model = Model(
        Markdown("# Approval"),
        Checkbox(name="approve", label="Approve", value=False, option="APPROVE"),
        InputText(name="comments", label="Comments"),
        Submit("Approve"),
        Cancel("Reject"),
    )
    assert model.to_json() == json.loads(KODOSUMI_APPROVAL)


def test_every_element_has_kodosumis_type_and_round_trips() -> None:
    model = Model(
        InputText("t", "Text", pattern="[a-z]+"),
        InputArea("a", "Area", rows=3, max_length=50),
        InputNumber("n", "Number", min_value=1, max_value=9, step=1),
        InputDate("d", "Date", min_date="2026-01-01"),
        InputTime("tm", "Time"),
        InputDateTime("dt", "When"),
        Checkbox("c", "yes"),
        Select("s", [InputOption("x", "X"), InputOption("y", "Y", True)], "Pick"),
        MultiSelect("m", [InputOption("x", "X"), InputOption("y", "Y")]),
        UserSelect("u", "Who"),
        Errors(),
        Submit("Go"),
    )
    types = [e["type"] for e in model.to_json()]
    assert types == [
        "text", "textarea", "number", "date", "time", "datetime-local", "boolean", "select",
        "multiselect", "user", "errors", "submit",
    ]  # fmt: skip
    assert model.to_json()[7]["option"][1] == {
        "type": "option",
        "name": "y",
        "label": "Y",
        "value": True,
    }
    assert Model.from_json(json.loads(json.dumps(model.to_json()))) == model


def test_model_refuses_duplicate_names_and_empty_selects() -> None:
    with pytest.raises(FlowConfigError, match="unique: x"):
        Model(InputText("x"), InputText("x"))
    with pytest.raises(FlowConfigError, match="at least one"):
        Select("s", [])
    with pytest.raises(FlowConfigError, match="needs a name"):
        InputText("")


def test_inputs_error_wire_form() -> None:
    err = InputsError("Check the form", approve="Approval is required")
    err.add(comments="Comments are required", approve="Really")
    err.flash("Second")
    assert err.has_errors() and bool(err)
    assert err.wire() == {  # as kodosumi: flashed messages first, then positional ones
        "approve": ["Approval is required", "Really"],
        "comments": ["Comments are required"],
        "_global_": ["Second", "Check the form"],
    }
    assert not InputsError().has_errors()
    assert not InputsError("positional only").has_errors()  # kodosumi counts added ones only
    assert InputsError().wire() == {"_global_": []}
    assert InputsError.from_wire(err.wire()).wire() == err.wire()


def test_registration_rules() -> None:
    assert issubclass(ServeAPI, FlowApp) and ServeAPI.kodosumi and not FlowApp.kodosumi
    app = FlowApp()

    @app.enter("/review", summary="Review")
    async def enter() -> None: ...

    assert app.entries["review"].summary == "Review"
    with pytest.raises(FlowConfigError, match="twice"):
        app.enter("review")(enter)
    with pytest.raises(FlowConfigError, match="no spaces"):
        app.enter("/two words")(enter)

    @app.lease("orphan")
    async def orphan(inputs: dict[str, object]) -> None: ...

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Registry([app])
    assert "lease 'orphan' has no @lock('orphan') form" in str(caught[0].message)

    other = FlowApp()
    other.enter("review")(enter)
    with pytest.raises(FlowConfigError, match="two FlowApps: review"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Registry([app, other])


def test_a_lock_form_shared_by_one_app_and_a_lease_beside_the_flow_both_resolve() -> None:
    """Lock forms and leases are looked up each on its own: the flow's app's, else the one
    other app that has it (a form kept in a shared module, its lease beside the flow)."""
    common, mine = FlowApp(), FlowApp()

    @common.lock("approval")
    def form(data: dict[str, Any]) -> Model:
        return Model(InputText("x", "X"))

    mine.flow("deploy")(waits_for_approval)

    @mine.lease("approval")
    def lease(inputs: dict[str, Any]) -> Any:
        return inputs

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        registry = Registry([common, mine])
    assert not said, [str(w.message) for w in said]
    assert registry.lock("deploy", "approval") is form
    assert registry.lease("deploy", "approval") is lease


async def waits_for_approval(tracer: Any) -> Any:
    return await tracer.lock("approval")
