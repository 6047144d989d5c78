"""The SDK against kodosumi's documented wire form and behaviour (kodosumi 1.1): every form
element's JSON, key for key and in kodosumi's key order; Model's methods; InputsError; the
response bodies; and the values a ServeAPI app's handlers get."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, time
from typing import Any

import pytest

from bot.render.blocks import message_blocks
from bot.render.inputs import input_block
from flows import (
    FlowApp,
    FlowConfigError,
    InputsError,
    KodosumiError,
    LockstepError,
    ServeAPI,
    response,
)
from flows.app import Registry, flow_name
from flows.codec import decode, encode, plain
from flows.errors import GLOBAL, NotStorable
from flows.forms import (
    HR,
    HTML,
    Action,
    Break,
    Cancel,
    Checkbox,
    Errors,
    InputArea,
    InputDate,
    InputDateTime,
    InputFiles,
    InputNumber,
    InputOption,
    InputPassword,
    InputText,
    InputTime,
    Markdown,
    Model,
    Select,
    Submit,
)
from flows.parse import parse
from flows.submitted import as_submitted
from tests import long_flows

TEXT = '"label": null, "value": null, "required": false, "placeholder": null'
GOLDEN: list[tuple[Any, str]] = [
    (InputText("t"), f'{{"type": "text", "name": "t", {TEXT}, "size": null, "pattern": null}}'),
    (
        InputNumber("n"),
        f'{{"type": "number", "name": "n", {TEXT}, "size": null, "pattern": null, '
        '"min_value": null, "max_value": null, "step": null}',
    ),
    (
        InputPassword("p"),
        f'{{"type": "password", "name": "p", {TEXT}, "size": null, "pattern": null, '
        '"min_length": null, "max_length": null}',
    ),
    (
        InputArea("a"),
        f'{{"type": "textarea", "name": "a", {TEXT}, "rows": null, "cols": null, '
        '"max_length": null}',
    ),
    (
        InputDate("d"),
        f'{{"type": "date", "name": "d", {TEXT}, "min_date": null, "max_date": null}}',
    ),
    (
        InputTime("tm"),
        f'{{"type": "time", "name": "tm", {TEXT}, "min_time": null, "max_time": null, '
        '"step": null}',
    ),
    (
        InputDateTime("dt"),
        f'{{"type": "datetime-local", "name": "dt", {TEXT}, "min_datetime": null, '
        '"max_datetime": null, "step": null}',
    ),
    (
        Checkbox("c"),
        '{"type": "boolean", "name": "c", "label": null, "value": false, "option": "on"}',
    ),
    (
        Select("s", [InputOption("x", "X"), InputOption("y", "Y")], value="y"),
        '{"type": "select", "name": "s", "label": null, "value": "y", "option": [{"type": '
        '"option", "name": "x", "label": "X", "value": false}, {"type": "option", "name": "y", '
        '"label": "Y", "value": true}], "error": null}',
    ),
    (InputOption("o"), '{"type": "option", "name": "o", "label": null, "value": false}'),
    (
        InputFiles("f"),
        '{"type": "file", "name": "f", "label": null, "value": null, "required": false, '
        '"multiple": false, "directory": false}',
    ),
    (Markdown("# hi"), '{"type": "markdown", "text": "# hi"}'),
    (HTML("<b>x</b>"), '{"type": "html", "text": "<b>x</b>"}'),
    (HTML(), '{"type": "html", "text": null}'),
    (Break(), '{"type": "break", "text": "<div class=\\"space\\"></div>"}'),
    (HR(), '{"type": "hr", "text": "<hr class=\\"medium\\"/>"}'),
    (Errors(), '{"type": "errors"}'),
    (Submit("Go"), '{"type": "submit", "text": "Go"}'),
    (Cancel("No"), '{"type": "cancel", "text": "No"}'),
    (
        Action("act", "v", text="Do"),
        '{"type": "action", "name": "act", "value": "v", "text": "Do"}',
    ),
]


@pytest.mark.parametrize(("element", "golden"), GOLDEN, ids=[g[0].type for g in GOLDEN])
def test_every_element_has_kodosumis_json_key_for_key(element: Any, golden: str) -> None:
    assert json.dumps(element.to_dict()) == golden
    assert json.dumps(Model.from_json([json.loads(golden)]).to_json()[0]) == golden


def test_kodosumi_constructor_quirks() -> None:
    assert Break("ignored", text="ignored").to_json() == Break().to_json()
    assert Markdown(None).to_json() == {"type": "markdown", "text": ""}  # type: ignore[arg-type]
    assert Action("go", "v", True).text is None  # the third argument is `required`
    assert Checkbox("c", "Yes please").option == "Yes please"
    chosen = Select("s", [InputOption("x", value=True), {"type": "option", "name": "y"}], value="y")
    assert [o.value for o in chosen.option] == [False, True]  # the value marks its option
    kept = Select("s", [InputOption("x"), InputOption("y", value=True)])
    assert [o.value for o in kept.option] == [False, True]  # no value: the marks stay
    assert Errors().name == GLOBAL


def test_error_on_every_element_is_kept_and_shown() -> None:
    every = [InputText("t", error=["bad"]), Checkbox("c", error="no"), Submit("Go", error=["x"])]
    assert [e.error for e in every] == [("bad",), ("no",), ("x",)]
    assert InputText("t", error=["bad"]).to_json()["error"] == ["bad"]  # set: in the JSON
    assert "error" not in InputText("t").to_json()  # unset: kodosumi's JSON exactly
    assert Select("s", [InputOption("x")], error=["pick"]).to_json()["error"] == ["pick"]
    assert '<span class="error">bad</span>' in InputText("t", error=["bad"]).render()


def test_model_methods() -> None:
    model = Model(Markdown("# Title"), Errors(), InputText("name", "Name"), Checkbox("ok"))
    assert model.children == model.elements and len(model.children) == 4
    assert model.get_model() == model.to_json()
    assert json.loads(model.get_model_json()) == {"elements": model.to_json()}
    html = model.render()
    assert "<h1>Title</h1>" in html and 'name="name"' in html and 'type="checkbox"' in html
    assert "<script>" not in Model(InputText("x", "<script>")).render()

    wire = [e | {} for e in model.to_json()] + [{"type": "video", "src": "x"}]
    rebuilt = Model.model_validate(wire, errors={"name": ["Say it"], GLOBAL: ["Fix it"]})
    assert [e.type for e in rebuilt] == ["markdown", "errors", "text", "boolean"]  # unknown: gone
    assert rebuilt.children[2].error == ("Say it",) and rebuilt.children[1].error == ("Fix it",)
    assert wire[0] == {"type": "markdown", "text": "# Title"}  # the dicts given are unchanged

    form = Model(
        InputText("name"),
        Checkbox("ok", value=True),
        Select("s", [InputOption("a"), InputOption("b")]),
    )
    form.set_data({"name": "Ann", "s": "b"})
    assert [getattr(e, "value", None) for e in form] == ["Ann", False, "b"]  # absent box: off
    assert [o.value for o in form.children[2].option] == [False, True]  # type: ignore[attr-defined]
    form.set_data({"ok": "on"})
    assert form.children[1].value is True  # type: ignore[attr-defined]
    form.set_data({})
    assert form.children[1].value is False  # type: ignore[attr-defined]


def test_a_form_is_changed_in_place_as_kodosumi_apps_change_theirs() -> None:
    """kodosumi's elements and ``children`` are mutable: apps copy a template form and set
    values, or append elements, in their lock handler. A change that breaks the form (two
    fields of one name) is refused when the form is written out."""
    template = Model(Markdown("Hello"), InputText("name", "Name"), Submit("Go"))
    form = copy.deepcopy(template)
    form.children[1].value = "Ann"  # type: ignore[attr-defined]
    form.children.insert(2, Checkbox("ok", option="OK"))
    assert [e["type"] for e in form.to_json()] == ["markdown", "text", "boolean", "submit"]
    assert form.to_json()[1]["value"] == "Ann" and template.to_json()[1]["value"] is None
    assert parse(form, {"name": "Bo", "ok": True}) == {"name": "Bo", "ok": True}
    form.children.append(InputText("name"))
    with pytest.raises(FlowConfigError, match="unique: name"):
        form.to_json()


def test_inputs_error_behaves_as_kodosumis() -> None:
    assert issubclass(InputsError, KodosumiError) and issubclass(KodosumiError, LockstepError)
    err = InputsError("global msg", name="bad name")
    err.flash("flashed")
    assert err.wire() == {"name": ["bad name"], GLOBAL: ["flashed", "global msg"]}
    assert err.args == ("global msg",)
    assert InputsError(approve="need").wire() == {"approve": ["need"], GLOBAL: []}
    only_global = InputsError("only global")
    assert not only_global.has_errors() and not only_global  # positional messages do not count
    assert only_global.wire() == {GLOBAL: ["only global"]}
    collected = InputsError()
    assert not collected
    collected.add(**{"continue": "Tick it"})  # keywords Python reserves
    collected.add(name="Say yes", **{"continue": "Really"})
    assert collected.has_errors()
    assert collected.wire() == {"continue": ["Tick it", "Really"], "name": ["Say yes"], GLOBAL: []}
    flashed = InputsError().flash("flashed only")
    assert flashed.has_errors()


def test_responses_join_as_kodosumis_and_are_recorded_with_their_kind() -> None:
    assert response.Markdown("# one").body == "# one"
    assert response.Markdown("a", "b").body == "a\nb"
    assert response.HTML(["<b>x</b>", 1]).body == "<b>x</b>\n1"
    assert response.Text(body="t").body == "t"
    with pytest.raises(ValueError):
        response.Text(3)
    for body in (response.Markdown("m"), response.HTML("h"), response.Text("t")):
        stored = json.loads(json.dumps(encode(body)))
        assert decode(stored) == body and type(decode(stored)) is type(body)
        assert plain(stored) == body.body


def test_sets_dates_and_models_are_recorded_and_replayed() -> None:
    value = {"files": {"a.txt", "b.txt"}, "day": date(2025, 1, 31), "body": response.Markdown("x")}
    stored = json.loads(json.dumps(encode(value)))
    assert decode(stored) == value
    assert plain(stored) == {"files": ["a.txt", "b.txt"], "day": "2025-01-31", "body": "x"}


def test_a_dict_s_keys_are_recorded_as_json_writes_them() -> None:
    """kodosumi's lease results travel as JSON: a lease returning ``{1: "a"}`` resumes its
    flow with ``{"1": "a"}``; keys JSON cannot write, or writes alike, are refused."""
    value = {1: "a", 2.5: {None: [True]}, False: 0, "s": 1}
    stored = json.loads(json.dumps(encode(value)))
    assert decode(stored) == json.loads(json.dumps(value))
    assert decode(stored) == {"1": "a", "2.5": {"null": [True]}, "false": 0, "s": 1}
    for bad in ({(1, 2): "t"}, {1: "a", "1": "b"}, {float("nan"): 1}):
        with pytest.raises(NotStorable):
            encode(bad)


FORM = Model(
    Errors(),
    InputText("name"),
    InputNumber("n"),
    InputDate("d"),
    InputTime("t"),
    InputDateTime("dt"),
    Checkbox("ok"),
    Select("s", [InputOption("a"), InputOption("b")]),
    InputArea("area"),
    InputFiles("files", multiple=True),
    Action("act", "go", text="Go"),
    Action("act", "stop", text="Stop"),
    Submit("Send"),
)


def test_a_serveapi_handler_gets_the_values_as_a_kodosumi_form_submits_them() -> None:
    raw = {
        "name": "", "n": "5", "d": "2025-01-31", "t": "14:30", "dt": 1738333800, "ok": True,
        "s": "b", "files": [{"name": "a.txt"}, {"name": "b.txt"}], "act": "stop",
        "extra": "dropped",
    }  # fmt: skip
    typed = parse(FORM, raw)
    assert typed["n"] == 5 and typed["d"] == date(2025, 1, 31) and typed["t"] == time(14, 30)
    assert typed["dt"] == datetime(2025, 1, 31, 14, 30) and typed["files"] == ["a.txt", "b.txt"]
    assert as_submitted(FORM, typed, raw) == {
        GLOBAL: None, "name": "", "n": "5", "d": "2025-01-31", "t": "14:30",
        "dt": "2025-01-31T14:30", "ok": True, "s": "b", "area": "", "files": {"a.txt", "b.txt"},
        "act": "stop",
    }  # fmt: skip
    assert list(as_submitted(FORM, typed, raw))[:2] == [GLOBAL, "name"]  # the form's order
    empty = as_submitted(FORM, parse(FORM, {}), {})
    assert empty == {
        GLOBAL: None, "name": "", "n": "", "d": "", "t": "", "dt": "", "ok": False, "s": None,
        "area": "", "files": None, "act": None,
    }  # fmt: skip
    assert GLOBAL not in as_submitted(Model(InputText("x")), {"x": None}, {})  # no Errors(): no key


@pytest.mark.parametrize(
    "typed", ["007", "+5", "2.50", "0.00001", "1e1", "12345678901234567.89", "-0"]
)
def test_a_serveapi_handler_gets_a_number_s_digits_as_typed(typed: str) -> None:
    """kodosumi hands over what the field held: a handler doing ``Decimal(inputs["n"])``
    gets the digits the person typed, not a float's rendering of them (``1e-05``)."""
    form = Model(InputNumber("n"))
    raw = {"n": f" {typed} "}
    assert as_submitted(form, parse(form, raw), raw) == {"n": typed}
    assert as_submitted(form, parse(form, {"n": 0.1}), {"n": 0.1}) == {"n": "0.1"}  # JSON


def test_actions_and_files_are_checked_on_the_server() -> None:
    with pytest.raises(InputsError) as caught:
        parse(FORM, {"act": "launch-missiles"})
    assert caught.value.wire() == {"act": ["Press one of the form's buttons."], GLOBAL: []}
    one = Model(InputFiles("f", required=True))
    with pytest.raises(InputsError, match="required"):
        parse(one, {"f": []})
    with pytest.raises(InputsError, match="Upload one file"):
        parse(one, {"f": [{"name": "a"}, {"name": "b"}]})


def test_flow_names_come_from_path_summary_or_module() -> None:
    assert flow_name("/review", None, "m") == "review"
    assert flow_name("/much/deeper/", "Deep", "m") == "much/deeper"
    assert flow_name("/", "Simple HITL Demo!", "m") == "simple-hitl-demo"
    assert flow_name("/", None, "my_flows.hitl.app") == "hitl"
    assert flow_name("/", "🎵", "pkg.hymn.main") == "hymn"
    assert flow_name("/", "Any", "m", name="chosen") == "chosen"
    with pytest.raises(FlowConfigError, match="no spaces"):
        flow_name("/two words", None, "m")
    deep = "/" + "a/" * 100 + "b"  # a run of it was a 500 on Postgres (its column holds 200)
    assert flow_name("/" + "a" * 200, None, "m") == "a" * 200
    with pytest.raises(FlowConfigError, match="more than 200 characters"):
        flow_name(deep, None, "m")
    with pytest.raises(FlowConfigError, match="more than 200 characters"):
        FlowApp().flow("x" * 201)(long_flows.quarterly)

    app = ServeAPI()
    model = Model(InputText("x"), Submit("Go"))

    @app.enter("/", model, summary="Prime gaps", tags=["math"], author="a@b.c", version="1")
    async def enter(inputs: dict[str, Any], request: Any) -> None: ...

    @app.enter("/async", model)
    async def other(request: Any, inputs: dict[str, Any]) -> None: ...

    assert sorted(app.entries) == ["async", "prime-gaps"]
    assert app.entries["prime-gaps"].meta == {"tags": ["math"], "author": "a@b.c", "version": "1"}
    assert app.entries["async"].kodosumi and not FlowApp().kodosumi
    with pytest.raises(FlowConfigError, match="registered twice: give one of them name="):
        app.enter("/", model, summary="Prime gaps")(enter)

    @app.lock(name="l", anything="ignored")
    async def form() -> Model: ...

    @app.lease("l", methods=["POST"])
    async def lease(inputs: dict[str, Any]) -> None: ...

    assert Registry([app]).kodosumi("async", "l")  # its lock gets kodosumi's values
    with pytest.raises(AttributeError, match="not a FastAPI app"):
        app.openapi_schema  # type: ignore[attr-defined]  # noqa: B018


def test_element_errors_show_under_their_fields_and_in_errors() -> None:
    form = Model.model_validate(
        Model(Errors(), InputText("name", "Name"), Submit("Go")).to_json(),
        errors={"name": ["Too short"], GLOBAL: ["Check the form"]},
    ).to_json()
    shown = message_blocks(form, lock_id="L1", title="T")
    assert shown[1]["text"]["text"] == ":warning: Check the form"  # where Errors() is
    name = next(b for b in shown if b.get("block_id") == "f_name")
    assert name["hint"]["text"] == "⚠️ Too short"
    checkbox = input_block(Checkbox("c", label="Agree").to_json(), None, [], modal=True)
    assert checkbox["element"]["options"][0]["text"]["text"] == "Agree"  # not kodosumi's "on"
