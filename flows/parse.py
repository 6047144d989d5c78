"""Server-side parsing and validation of a form submission (pure).

Surfaces hand in raw values (strings from text boxes, option names, booleans, ISO dates, lists,
uploaded files' descriptions); ``parse`` returns typed values keyed by field name, or raises
``InputsError`` with one message per bad field. Unknown fields are dropped. Nothing here trusts
the client: kodosumi checks none of it. ``flows.submitted`` turns typed values back into what
kodosumi hands its handlers.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from flows.errors import InputsError, LockstepError
from flows.forms import (
    Action,
    Checkbox,
    Input,
    InputArea,
    InputDate,
    InputDateTime,
    InputFiles,
    InputNumber,
    InputPassword,
    InputText,
    InputTime,
    Model,
    MultiSelect,
    Select,
    UserSelect,
)

REQUIRED = "This field is required."
TRUE = frozenset({"on", "true", "1", "yes", "y", "checked"})  # what a ticked box may send
FALSE = frozenset({"off", "false", "0", "no", "n", ""})
_USER = re.compile(r"[UW][A-Z0-9]{2,30}")
# A number as people write one with a keyboard's digits, ASCII only (Python's int() also takes
# Arabic-Indic or fullwidth digits, which no one means to type): a sign, a point, an exponent.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_NUMBER_MAX = 100  # characters
MAX_TEXT = 3000  # characters of any text field without a ``max_length`` of its own
TOO_LONG = "Use at most {limit} characters (you used {used})."


class FieldError(LockstepError, ValueError):
    """One field's problem, in words a person can act on."""


def parse(model: Model, raw: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    errors = InputsError()
    for element in model.inputs:
        try:
            values[element.name] = parse_field(element, raw.get(element.name))
        except FieldError as exc:
            errors.add(**{element.name: str(exc)})
    for name, buttons in model.actions.items():
        try:
            values[name] = _action(buttons, raw.get(name))
        except FieldError as exc:
            errors.add(**{name: str(exc)})
    if errors:
        raise errors
    return values


def parse_field(element: Input, value: Any) -> Any:
    if isinstance(element, Checkbox):
        return _boolean(value)
    if isinstance(element, MultiSelect):
        return _multi(element, value)
    if isinstance(element, InputFiles):
        return _files(element, value)
    if isinstance(element, UserSelect) and element.multiple:
        users = [_user(v) for v in _as_list(value) if not _blank(v)]
        if element.required and not users:
            raise FieldError(REQUIRED)
        return users
    if _blank(value):
        if getattr(element, "required", False):
            raise FieldError(REQUIRED)
        return None
    parser = _PARSERS.get(type(element))
    if parser is None:
        raise FieldError("This field cannot be submitted here.")
    return parser(element, value)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise FieldError("Enter text.")
    return str(value)


def _input_text(element: Any, value: Any) -> str:
    text = _text(value)
    limit = getattr(element, "max_length", None) or MAX_TEXT
    if len(text) > limit:
        raise FieldError(TOO_LONG.format(limit=limit, used=len(text)))
    min_length = getattr(element, "min_length", None)
    if min_length and len(text) < min_length:
        raise FieldError(f"Use at least {min_length} characters.")
    pattern = _pattern(getattr(element, "pattern", None))
    if pattern is not None and not pattern.fullmatch(text):
        raise FieldError("This value does not have the expected format.")
    return text


@functools.lru_cache(maxsize=256)
def _pattern(source: Any) -> re.Pattern[str] | None:
    """A field's ``pattern`` (HTML's: the whole value must match), or None when it is none
    Python can read (``\\p{L}``, a browser's Unicode classes): kodosumi leaves checking it to
    the browser, so here it goes unchecked rather than refusing every answer."""
    if not source or not isinstance(source, str):
        return None
    try:
        return re.compile(source)
    except re.error:
        return None


def _number(element: InputNumber, value: Any) -> int | float:
    if isinstance(value, bool):
        raise FieldError("Enter a number.")
    if isinstance(value, int | float):
        number: int | float = value
    else:
        text = _text(value).strip()
        if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise FieldError("Enter a finite number.")
        if len(text) > _NUMBER_MAX or not _NUMBER.fullmatch(text):
            raise FieldError("Enter a number.")
        is_int = all(c.isdigit() or c in "+-" for c in text)
        number = int(text) if is_int else float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise FieldError("Enter a finite number.")
    low, high, step = (_attribute(element, k) for k in ("min_value", "max_value", "step"))
    if low is not None and number < low:
        raise FieldError(f"Enter a number of at least {_fmt(low)}.")
    if high is not None and number > high:
        raise FieldError(f"Enter a number of at most {_fmt(high)}.")
    if step and step > 0 and not _on_step(number, low or 0, step):
        raise FieldError(f"Enter a multiple of {_fmt(step)}.")
    return number


def _attribute(element: InputNumber, name: str) -> float | None:
    return html_number(getattr(element, name, None))


def html_number(value: Any) -> float | None:
    """A number attribute (``min``, ``max``, ``step``) as HTML takes it: a finite number or
    its text; anything else (``"any"``, ``""``, an integer past a float's range) is none."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _on_step(number: float, base: float, step: float) -> bool:
    """Is ``number`` ``base`` plus a whole number of ``step``s, in decimal as it was typed
    (``1234567.89`` is on a step of ``0.01``, which binary floats get wrong)?"""
    with localcontext() as exact:
        exact.prec = 2000  # every digit of any finite float: the remainder is exact
        try:
            return (Decimal(repr(number)) - Decimal(repr(base))) % Decimal(repr(step)) == 0
        except InvalidOperation:
            return False


def _fmt(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


# The ISO shapes a browser's or Slack's picker sends (Python's fromisoformat also reads the
# basic forms, so ``1000`` or ``20260101`` would be a time of day): ASCII digits, colons, dashes.
_CLOCK = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_SHAPES = {
    date: re.compile(_DAY),
    time: re.compile(_CLOCK),
    datetime: re.compile(f"{_DAY}[T ]{_CLOCK}"),
}


def _iso(kind: type[date] | type[time], label: str, shaped: bool = True) -> Callable[[Any], Any]:
    """``kind`` from its ISO text (or itself, not a kin: a ``datetime`` is no ``date`` here);
    ``shaped``: only in the extended form a picker sends (a submitted value, not an author's
    bound). A time of day has no offset: with no date to place it, it cannot be compared or
    stored."""

    def convert(value: Any) -> Any:
        try:
            if type(value) is kind:
                found = value
            elif shaped and not (isinstance(value, str) and _SHAPES[kind].fullmatch(value.strip())):
                raise ValueError(value)
            else:
                found = kind.fromisoformat(_text(value).strip())
        except (ValueError, FieldError):
            raise FieldError(f"Enter a valid {label}.") from None
        if isinstance(found, time) and found.tzinfo is not None:
            raise FieldError(f"Enter a valid {label}, without a UTC offset.")
        return found

    return convert


_date = _iso(date, "date (YYYY-MM-DD)")
_time = _iso(time, "time (HH:MM)")
_datetime_iso = _iso(datetime, "date and time")
_date_bound = _iso(date, "date (YYYY-MM-DD)", shaped=False)
_time_bound = _iso(time, "time (HH:MM)", shaped=False)
_datetime_bound = _iso(datetime, "date and time", shaped=False)


def _bounded(value: Any, low: Any, high: Any, convert: Callable[[Any], Any]) -> Any:
    if low is not None and value < convert(low):
        raise FieldError(f"Enter {low} or later.")
    if high is not None and value > convert(high):
        raise FieldError(f"Enter {high} or earlier.")
    return value


def _in_date(element: InputDate, value: Any) -> date:
    result: date = _bounded(_date(value), element.min_date, element.max_date, _date_bound)
    return result


def _in_time(element: InputTime, value: Any) -> time:
    result: time = _bounded(_time(value), element.min_time, element.max_time, _time_bound)
    return result


def _datetime(value: Any, iso: Callable[[Any], Any] = _datetime_iso) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).replace(tzinfo=None, microsecond=0)
        except (OverflowError, OSError, ValueError):
            raise FieldError("Enter a valid date and time.") from None
    result: datetime = iso(value)
    if result.tzinfo is not None:  # datetime-local is naive: compare and store wall time in UTC
        try:
            result = result.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # an offset that moves it past year 1 or 9999
            raise FieldError("Enter a valid date and time.") from None
    return result


def _datetime_bound_utc(value: Any) -> datetime:
    return _datetime(value, _datetime_bound)


def _in_datetime(element: InputDateTime, value: Any) -> datetime:
    result: datetime = _bounded(
        _datetime(value), element.min_datetime, element.max_datetime, _datetime_bound_utc
    )
    return result


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None or value == []:
        return False
    if isinstance(value, list) and len(value) == 1:  # Slack's shape: the one option ticked
        ticked = value[0]
        if isinstance(ticked, Mapping):
            return True
        if isinstance(ticked, list):
            raise FieldError("Tick the box or leave it empty.")
        return _boolean(ticked)  # ["on"], [true]; ["off"] or [false] is no tick
    if isinstance(value, str) and value.strip().lower() in TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in FALSE:
        return False
    raise FieldError("Tick the box or leave it empty.")


def _select(element: Select, value: Any) -> str:
    names = {o.name for o in element.option}
    choice = _text(value)
    if choice not in names:
        raise FieldError("Choose one of the options.")
    return choice


def _multi(element: MultiSelect, value: Any) -> list[str]:
    names = [o.name for o in element.option]
    chosen = [_text(v) for v in _as_list(value) if not _blank(v)]
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise FieldError("Choose only from the options.")
    if element.required and not chosen:
        raise FieldError(REQUIRED)
    if element.max_selected is not None and len(chosen) > element.max_selected:
        raise FieldError(f"Choose at most {element.max_selected}.")
    return [n for n in names if n in chosen]


def _action(buttons: list[Action], value: Any) -> str | None:
    """The value of the ``Action`` button pressed (None: another button submitted the form)."""
    if _blank(value):
        return None
    if not isinstance(value, str) or value not in {b.value for b in buttons}:
        raise FieldError("Press one of the form's buttons.")
    result: str = value
    return result


def _files(element: InputFiles, value: Any) -> list[str]:
    """Uploaded files by name (a surface hands in their descriptions: ``{"name": ...}``)."""
    names = [_file_name(v) for v in _as_list(value) if not _blank(v)]
    if element.required and not names:
        raise FieldError(REQUIRED)
    if not element.multiple and len(names) > 1:
        raise FieldError("Upload one file.")
    return names


def _file_name(value: Any) -> str:
    name = value.get("name") if isinstance(value, Mapping) else value
    if not isinstance(name, str) or not name.strip():
        raise FieldError("Upload a file.")
    return name


def _user(value: Any) -> str:
    text = _text(value)
    if not _USER.fullmatch(text):
        raise FieldError("Choose a person.")
    return text


_PARSERS: dict[type[Input], Callable[[Any, Any], Any]] = {
    InputText: _input_text,
    InputPassword: _input_text,
    InputArea: _input_text,
    InputNumber: _number,
    InputDate: _in_date,
    InputTime: _in_time,
    InputDateTime: _in_datetime,
    Select: _select,
    UserSelect: lambda _e, v: _user(v),
}
