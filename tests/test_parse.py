"""Server-side parsing: values typed, rules enforced, and no submission ever crashes it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import InputsError
from flows.forms import (
    Action,
    Checkbox,
    InputArea,
    InputDate,
    InputDateTime,
    InputNumber,
    InputOption,
    InputPassword,
    InputText,
    InputTime,
    Model,
    MultiSelect,
    Select,
    UserSelect,
)
from flows.parse import parse

FORM = Model(
    InputText("name", "Name", required=True, pattern="[A-Za-z ]+"),
    InputArea("notes", max_length=10),
    InputNumber("amount", required=True, min_value=1, max_value=1000),
    InputNumber("ratio", step=0.5),
    InputDate("day", min_date="2026-01-01", max_date="2026-12-31"),
    InputTime("at"),
    InputDateTime("when"),
    Checkbox("agree", "I agree"),
    Select("kind", [InputOption("travel", "Travel"), InputOption("food", "Food")]),
    MultiSelect("tags", [InputOption("a"), InputOption("b"), InputOption("c")], max_selected=2),
    UserSelect("owner"),
    InputPassword("secret", min_length=4),
)


def errors_of(raw: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(InputsError) as caught:
        parse(FORM, raw)
    return caught.value.wire()


def test_values_are_coerced_to_their_types() -> None:
    values = parse(
        FORM,
        {
            "name": "Ada Lovelace", "notes": "short", "amount": "42", "ratio": "1.5",
            "day": "2026-03-04", "at": "09:30", "when": "2026-03-04T09:30", "agree": "on",
            "kind": "food", "tags": ["c", "a"], "owner": "U123ABC", "secret": "hunter2",
            "unknown": "dropped",
        },
    )  # fmt: skip
    assert values == {
        "name": "Ada Lovelace", "notes": "short", "amount": 42, "ratio": 1.5,
        "day": date(2026, 3, 4), "at": time(9, 30), "when": datetime(2026, 3, 4, 9, 30),
        "agree": True, "kind": "food", "tags": ["a", "c"], "owner": "U123ABC",
        "secret": "hunter2",
    }  # fmt: skip
    assert "unknown" not in values


def test_optional_fields_may_be_blank() -> None:
    values = parse(FORM, {"name": "Bo", "amount": 5})
    assert values["notes"] is None and values["agree"] is False and values["tags"] == []


def test_every_rule_is_enforced() -> None:
    errors = errors_of(
        {
            "name": "", "notes": "x" * 11, "amount": "1001", "ratio": "0.3", "day": "2025-12-31",
            "at": "25:00", "when": "soon", "agree": "maybe", "kind": "jewels",
            "tags": ["a", "b", "c"], "owner": "alice", "secret": "abc",
        }
    )  # fmt: skip
    assert errors == {
        "name": ["This field is required."],
        "notes": ["Use at most 10 characters (you used 11)."],
        "amount": ["Enter a number of at most 1000."],
        "ratio": ["Enter a multiple of 0.5."],
        "day": ["Enter 2026-01-01 or later."],
        "at": ["Enter a valid time (HH:MM)."],
        "when": ["Enter a valid date and time."],
        "agree": ["Tick the box or leave it empty."],
        "kind": ["Choose one of the options."],
        "tags": ["Choose at most 2."],
        "owner": ["Choose a person."],
        "secret": ["Use at least 4 characters."],
        "_global_": [],
    }


def test_pattern_and_number_words() -> None:
    assert errors_of({"name": "R2D2", "amount": "ten"}) == {
        "name": ["This value does not have the expected format."],
        "amount": ["Enter a number."],
        "_global_": [],
    }
    assert errors_of({"name": "Al", "amount": "1_000"})["amount"] == ["Enter a number."]
    assert errors_of({"name": "Al", "amount": "nan"})["amount"] == ["Enter a finite number."]


@given(cents=st.integers(min_value=0, max_value=10**12))
def test_a_step_of_a_cent_takes_every_amount_in_cents(cents: int) -> None:
    """Steps are checked in decimal, as typed: ``1234567.89`` is on a step of 0.01 (binary
    floats say it is not)."""
    amount = f"{cents // 100}.{cents % 100:02d}"
    form = Model(InputNumber("amount", min_value=0, step=0.01))
    assert parse(form, {"amount": amount}) == {"amount": float(amount)}
    with pytest.raises(InputsError):
        parse(form, {"amount": amount + "1"})


def test_html_attribute_values_a_browser_takes_are_taken_too() -> None:
    """``step="any"``, numbers as text, and a pattern only a browser reads (``\\p{L}``) come
    from kodosumi apps, which leave them to the browser: none breaks an answer."""
    number = Model(InputNumber("n", step="any", min_value="1", max_value="10"))  # type: ignore[arg-type]
    assert parse(number, {"n": "3.3"}) == {"n": 3.3}
    with pytest.raises(InputsError, match="at least 1"):
        parse(number, {"n": "0.5"})
    letters = Model(InputText("name", pattern=r"[\p{L} \-]+"))
    assert parse(letters, {"name": "Zoë-Ann"}) == {"name": "Zoë-Ann"}


@pytest.mark.parametrize(
    ("typed", "number"),
    [("3", 3), (" 3 ", 3), ("+3", 3), ("-3", -3), ("2.5", 2.5), (".5", 0.5), ("5.", 5.0),
     ("1e3", 1000.0), ("2E-1", 0.2), ("007", 7)],
)  # fmt: skip
def test_numbers_are_written_with_ascii_digits(typed: str, number: float) -> None:
    form = Model(InputNumber("n"))
    assert parse(form, {"n": typed}) == {"n": number}
    assert type(parse(form, {"n": typed})["n"]) is type(number)


@pytest.mark.parametrize(
    "typed",
    ["\u0663", "\uff13", "\u0663.\u0665", "\u0967\u0966", "1_000", "1,5", "0x10", "1e",
     "e3", "--3", "3-", ". ", "1e99999", "½", "³", "1" * 101],
)  # fmt: skip
def test_other_digits_and_shapes_are_not_numbers(typed: str) -> None:
    """Python's int() takes Arabic-Indic, Devanagari and fullwidth digits; a form does not: no
    one means them, and they read differently in every other system the number goes to."""
    with pytest.raises(InputsError) as refused:
        parse(Model(InputNumber("n")), {"n": typed})
    assert refused.value.wire()["n"] in (["Enter a number."], ["Enter a finite number."])


def test_kodosumi_checkbox_and_slack_shapes() -> None:
    form = Model(Checkbox("ok"), InputDateTime("when"))
    assert parse(form, {"ok": "on", "when": 1_800_000_000}) == {
        "ok": True,
        "when": datetime(2027, 1, 15, 8, 0),
    }
    assert parse(form, {"ok": ["on"]})["ok"] is True
    assert parse(form, {"ok": []})["ok"] is False


@pytest.mark.parametrize(
    ("sent", "ticked"),
    [(["off"], False), (["false"], False), ([False], False), ([""], False), ([None], False),
     (["on"], True), (["yes"], True), ([True], True), ([{"value": "on"}], True)],
)  # fmt: skip
def test_a_checkbox_sent_as_a_list_of_one_reads_as_that_one(sent: list[Any], ticked: bool) -> None:
    """A list of one (Slack's ticked options, or an API client's) is what its one item says:
    an explicit "off" or "false" is no tick, as it is when sent alone."""
    assert parse(Model(Checkbox("ok")), {"ok": sent}) == {"ok": ticked}


@pytest.mark.parametrize("sent", [[0], [1], ["maybe"], [["on"]]])
def test_a_checkbox_sent_a_list_of_one_thing_no_box_says_is_a_field_error(sent: list[Any]) -> None:
    with pytest.raises(InputsError) as refused:
        parse(Model(Checkbox("ok")), {"ok": sent})
    assert refused.value.wire()["ok"] == ["Tick the box or leave it empty."]


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
raw_values = scalars | st.lists(scalars, max_size=4) | st.dictionaries(st.text(max_size=4), scalars)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([i.name for i in FORM.inputs] + ["x"]), raw_values))
def test_any_submission_parses_or_yields_field_errors(raw: dict[str, Any]) -> None:
    try:
        values = parse(FORM, raw)
    except InputsError as exc:
        wire = exc.wire()
        assert set(wire) <= {i.name for i in FORM.inputs} | {"_global_"}
        assert all(isinstance(m, str) and m for msgs in wire.values() for m in msgs)
    else:
        assert set(values) == {i.name for i in FORM.inputs}


@pytest.mark.parametrize("pressed", [{}, {"a": 1}, [1], ["draft", "publish"], 1, True, 1.5])
def test_an_action_pressed_with_a_value_no_button_has_is_a_field_error(pressed: Any) -> None:
    """A list or an object where a button's value goes (an API client's, never a browser's) is
    said under its field, not a TypeError (a 500 from kodosumi's launch route)."""
    buttons = Model(Action("action", "draft", text="Save"), Action("action", "publish", text="Go"))
    assert parse(buttons, {"action": "draft"}) == {"action": "draft"}
    with pytest.raises(InputsError) as refused:
        parse(buttons, {"action": pressed})
    assert refused.value.wire()["action"] == ["Press one of the form's buttons."]


BOUNDED = Model(
    InputTime("at", min_time="09:00", max_time="17:00"),
    InputDate("day", min_date="2026-01-01"),
    InputDateTime("when", min_datetime="2026-01-01T00:00"),
)


@pytest.mark.parametrize(
    "raw",
    [
        {"at": "10:00+05:00"},
        {"at": "10:00Z"},
        {"at": time(10, tzinfo=UTC)},
        {"at": datetime(2026, 1, 1, 10)},
        {"day": datetime(2026, 5, 1, 10)},
        {"day": time(10)},
        {"when": date(2026, 5, 1)},
    ],
)
def test_a_time_with_an_offset_or_a_value_of_a_kin_type_is_a_field_error(
    raw: dict[str, Any],
) -> None:
    """A time of day with a UTC offset (an API client's, never Slack's picker) cannot be
    compared with the form's bounds; a datetime is no date. Each is said under its field."""
    with pytest.raises(InputsError) as refused:
        parse(BOUNDED, raw)
    assert set(refused.value.wire()) == set(raw) | {"_global_"}


def test_a_date_and_time_with_an_offset_is_the_same_moment_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert parse(BOUNDED, {"when": "2026-05-01T10:00+02:00"})["when"] == datetime(2026, 5, 1, 8)
    assert parse(BOUNDED, {"when": datetime(2026, 5, 1, 10, tzinfo=plus_two)})["when"] == (
        datetime(2026, 5, 1, 8)
    )
    assert parse(BOUNDED, {"at": time(10, 30), "day": date(2026, 2, 1)})["at"] == time(10, 30)


def test_a_date_time_whose_offset_leaves_the_calendar_is_a_field_error() -> None:
    """Year 1 at +14:00 is in year 0 in UTC, which no datetime holds: a refusal under the
    field, not an OverflowError (a 500 from the API)."""
    for edge in ("0001-01-01T00:00+14:00", "9999-12-31T23:59-14:00"):
        with pytest.raises(InputsError) as refused:
            parse(BOUNDED, {"when": edge})
        assert refused.value.wire()["when"] == ["Enter a valid date and time."]


clock = st.from_regex(r"\A[0-2]?[0-9]:[0-5][0-9](:[0-5][0-9])?([+-][01][0-9]:[0-5][0-9]|Z)?\Z")
temporal = (
    clock
    | st.dates().map(str)
    | st.datetimes(timezones=st.none() | st.just(UTC)).map(lambda d: d.isoformat())
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["at", "day", "when"]), temporal | raw_values))
def test_any_date_or_time_parses_or_yields_field_errors(raw: dict[str, Any]) -> None:
    try:
        parse(BOUNDED, raw)
    except InputsError as exc:
        assert set(exc.wire()) <= {"at", "day", "when", "_global_"}


def test_a_text_holds_3000_characters_unless_its_max_length_says_otherwise() -> None:
    short, area = Model(InputText("t", "T")), Model(InputArea("a", "A", max_length=8000))
    assert parse(short, {"t": "x" * 3000}) == {"t": "x" * 3000}
    with pytest.raises(InputsError) as refused:
        parse(short, {"t": "x" * 3001})
    assert refused.value.errors["t"] == ["Use at most 3000 characters (you used 3001)."]
    assert parse(area, {"a": "x" * 7000}) == {"a": "x" * 7000}  # over the API


@pytest.mark.parametrize(
    "raw",
    [
        {"at": 1000},  # Python's fromisoformat: 10:00
        {"at": 10**30},
        {"at": "1000"},
        {"at": "20260101"},  # 20:26:01.01
        {"day": "20260101"},
        {"day": "2026W011"},  # a week date
        {"when": "20260101T1000"},
        {"when": "2026-01-01T10"},
        {"at": "\uff11\uff10:\uff10\uff10"},  # fullwidth digits
    ],
)
def test_a_date_or_time_not_in_the_shape_a_picker_sends_is_a_field_error(
    raw: dict[str, Any],
) -> None:
    """Dates and times are taken as a browser's or Slack's picker sends them (``2026-05-01``,
    ``10:00``, ``2026-05-01T10:00``): a number or ISO's basic form is not silently read as some
    other time of day."""
    with pytest.raises(InputsError) as refused:
        parse(BOUNDED, raw)
    assert set(refused.value.wire()) == set(raw) | {"_global_"}
    assert parse(BOUNDED, {"at": "10:00", "day": "2026-05-01", "when": "2026-05-01 10:00:30.5"})
    assert parse(BOUNDED, {"at": " 10:00:30 ", "when": 1_800_000_000}) == {
        "at": time(10, 0, 30), "day": None, "when": datetime(2027, 1, 15, 8, 0)
    }  # fmt: skip
