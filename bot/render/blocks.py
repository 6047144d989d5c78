"""Forms (kodosumi JSON) as Block Kit messages and modals (pure).

Messages and modals share ids (block ``input_block_id(name)``, action ``name``), so ``read_state``
reads either surface and a re-rendered message keeps what was typed. Required inputs are marked
Block Kit's way (``optional: false``); ``flows.parse`` validates every answer all the same, and
its errors come back as hints (messages) or as ``response_action: "errors"`` (modals). Display
text is cut to Slack's limits; identifiers that cutting would corrupt (lock id, callback id,
private metadata) raise ValueError instead. Text conversion (markdown/HTML to mrkdwn, escaping,
cutting, splitting) lives in ``bot.render.mrkdwn``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.render import formbody
from bot.render.formbody import SECTION
from bot.render.inputs import (
    ID_MAX,
    LABEL_MAX,
    Block,
    Form,
    action_groups,
    form_inputs,
    input_block_id,
    plain,
    text_of,
)
from bot.render.messages import (
    CANCEL_TEXT,
    CLOSE,
    EMPTY_FORM_TEXT,
    MODAL_TITLE,
    MORE_TEXT,
    OPEN_TEXT,
    SUBMIT_TEXT,
)
from bot.render.mrkdwn import (
    cut,
    split_heading,
)
from flows.errors import GLOBAL

ACTION_SUBMIT = "lockstep_submit"
ACTION_CANCEL = "lockstep_cancel"
ACTION_OPEN = "lockstep_open"
ACTION_PRESS = "lockstep_action"  # + "." + the Action element's index in the form
MAX_ACTION_BUTTONS = 20  # an actions block holds 25 elements: room for Submit, Cancel, Snooze
LOCK_CALLBACK = "lockstep_lock"
ENTRY_CALLBACK = "lockstep_entry"
ACTIONS_BLOCK_ID = "lock_actions"

MESSAGE_MAX_BLOCKS = 50
MESSAGE_MAX_CHARS = 12_000  # JSON of the blocks; Slack fails near 13k with msg_blocks_too_long
HINT_RESERVE = 100  # characters kept free per input for an error hint on a re-render
_SHORTEST_ERROR = 40  # characters of each error, at the least, when long ones are cut
MODAL_MAX_BLOCKS = 100

_HEADER, _BUTTON, _BUTTON_VALUE, _VIEW_TEXT, _METADATA = 150, 75, 2000, 24, 3000


def _checked_id(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise ValueError(f"{what} is longer than Slack's {limit} characters")
    return value


# --- surfaces --------------------------------------------------------------------------------


def _find(form: Form, kind: str) -> dict[str, Any] | None:
    return next((e for e in form if isinstance(e, dict) and e.get("type") == kind), None)


def _button(text: str, action_id: str, lock_id: str, style: str) -> Block:
    value = _checked_id(lock_id, _BUTTON_VALUE, "lock_id")
    return {
        "type": "button",
        "action_id": action_id,
        "text": plain(text, _BUTTON),
        "value": value,
        "style": style,
    }


def _actions(
    form: Form, lock_id: str, *, open_form: bool = False, more: Sequence[Block] = ()
) -> Block:
    """Submit shows when the form has one; else, in a form without kodosumi ``Action``
    buttons (which submit it themselves), when it has inputs or it'd be the only button."""
    submit, cancel = _find(form, "submit"), _find(form, "cancel")
    buttons = []
    if open_form:
        buttons.append(_button(OPEN_TEXT, ACTION_OPEN, lock_id, "primary"))
    elif submit or (not _find(form, "action") and (form_inputs(form) or not cancel)):
        text = text_of(submit, "text") or SUBMIT_TEXT
        buttons.append(_button(text, ACTION_SUBMIT, lock_id, "primary"))
    if cancel:
        text = text_of(cancel, "text") or CANCEL_TEXT
        buttons.append(_button(text, ACTION_CANCEL, lock_id, "danger"))
    if not open_form:
        buttons += _action_buttons(form, lock_id)
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": [*buttons, *more]}


def _is_action(element: Any) -> bool:
    return isinstance(element, Mapping) and element.get("type") == "action"


def _action_buttons(form: Form, lock_id: str) -> list[Block]:
    """kodosumi's ``Action`` elements: each submits the form with its name set to its value
    (the handler reads the element back from the stored form by its index)."""
    found = []
    for index, el in enumerate(form):
        if _is_action(el):
            text = text_of(el, "text", "value", "name") or SUBMIT_TEXT
            value = _checked_id(lock_id, _BUTTON_VALUE, "lock_id")
            found.append({"type": "button", "action_id": f"{ACTION_PRESS}.{index}",
                          "text": plain(text, _BUTTON), "value": value})  # fmt: skip
    return found[:MAX_ACTION_BUTTONS]


def _header(title: str) -> list[Block]:
    return [{"type": "header", "text": plain(title.strip(), _HEADER)}] if title.strip() else []


def titled(form: Form, title: str) -> tuple[str, Form]:
    """The form's title and the form without it. A form that opens with a Markdown heading
    (kodosumi forms do: ``# Content review``) is titled by that heading, taken out of its text
    so it shows once, as the header; any other form by ``title``."""
    first = form[0] if form and isinstance(form[0], Mapping) else None
    if first is None or first.get("type") != "markdown" or not isinstance(first.get("text"), str):
        return title, form
    heading, rest = split_heading(first["text"])
    if heading is None:
        return title, form
    return heading, [{**first, "text": rest}, *form[1:]]  # same places: Action ids count them


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _size(blocks: list[Block]) -> int:
    """The blocks' JSON as the Web API client sends it (its separators, not the compact ones)."""
    return len(json.dumps(blocks, ensure_ascii=False))


def _capped(head: list[Block], body: list[Block], tail: list[Block]) -> list[Block]:
    """As much of ``body`` as fits a message; a cut body ends with a pointer to the form."""
    room, chars = MESSAGE_MAX_BLOCKS - len(head + tail), MESSAGE_MAX_CHARS - _size(head + tail)
    sizes = [_size([b]) for b in body]  # "[b]" less the two brackets, plus ", "
    if len(body) <= room and sum(sizes) <= chars:
        return head + body + tail
    more = formbody.sections(MORE_TEXT)
    room, chars = room - 1, chars - _size(more)
    kept: list[Block] = []
    for block, size in zip(body, sizes, strict=True):
        if len(kept) >= room or size > chars:
            break
        kept.append(block)
        chars -= size
    return head + kept + more + tail


def _fields(form: Form, *, modal: bool) -> list[str]:
    """The names of the form's input blocks, in order: its inputs, and in a modal its groups
    of ``Action`` buttons (a choice each)."""
    inputs = [e["name"] for e in form_inputs(form)]
    if not modal:
        return inputs
    named = {*inputs, *action_groups(form)}
    found = (e["name"] for e in form if isinstance(e, Mapping) and e.get("name") in named)
    return list(dict.fromkeys(str(name) for name in found))


def _split_errors(
    form: Form, errors: Mapping[str, Any] | None, *, modal: bool = False
) -> tuple[list[str], dict[str, list[str]]]:
    """Global messages, with those for fields the form lacks (they'd show nowhere)."""
    names, errors = set(_fields(form, modal=modal)), errors or {}
    glob, fields = formbody.error_texts(errors.get(GLOBAL)), {}
    for key, value in errors.items():
        if key in names:
            fields[key] = formbody.error_texts(value)
        elif key != GLOBAL:
            glob.extend(formbody.error_texts(value))
    return glob, fields


def _message(
    form: Form,
    lock_id: str,
    title: str,
    errors: Mapping[str, Any] | None,
    values: Any,
    extra: Sequence[Block] = (),
    buttons: Sequence[Block] = (),
) -> list[Block]:
    title, form = titled(form, title)
    glob, fields = _split_errors(form, errors)
    warning = formbody.warnings(glob)
    body = formbody.form_blocks(form, modal=False, values=values, errors=fields)
    return _header(title) + warning + body + [*extra, _actions(form, lock_id, more=buttons)]


def fits_message(form: Form, extra: Sequence[Block] = (), buttons: Sequence[Block] = ()) -> bool:
    """Whether the form (with ``extra`` blocks above its buttons, and ``buttons`` after its
    own) can be answered inside a message; if not, open it in a modal.

    Leaves a block, ``HINT_RESERVE`` characters per input and ~1k more spare for a re-render
    with a title and errors (not for long typed values: Slack's limit counts those too). No
    element is modal-only: numbers render as text, ``datetimepicker`` works in messages.
    """
    if any(e.get("type") == "file" for e in form_inputs(form)):
        return False  # Slack's file input exists only in modals
    if len(_action_buttons(form, "")) < sum(_is_action(e) for e in form):
        return False  # more Action buttons than a message holds: a modal offers each
    blocks = _message(form, "", "T", None, None, extra, buttons)  # a message has its title
    reserve = HINT_RESERVE * sum(b["type"] == "input" for b in blocks)
    return len(blocks) < MESSAGE_MAX_BLOCKS and _size(blocks) + reserve <= MESSAGE_MAX_CHARS


def message_blocks(
    form: Form,
    *,
    lock_id: str,
    title: str,
    errors: Mapping[str, list[str]] | None = None,
    values: Mapping[str, Any] | None = None,
    extra: Sequence[Block] = (),
    buttons: Sequence[Block] = (),
) -> list[Block]:
    """The lock as a form in a message, ``extra`` blocks above its buttons, ``buttons`` after
    them (Snooze). Past 50 blocks it raises ValueError (see fits_message). ``values`` (a
    refused answer's, shown again) too long for the message to hold are left out: the errors
    show, and each person's client keeps what they typed (the inputs keep their block ids).
    Errors too long are cut shorter; past that, left to the answerer's note."""
    blocks = _message(form, lock_id, title, errors, values, extra, buttons)
    if values and _size(blocks) > MESSAGE_MAX_CHARS:
        blocks = _message(form, lock_id, title, errors, None, extra, buttons)
    limit = SECTION
    while errors and _size(blocks) > MESSAGE_MAX_CHARS and limit > _SHORTEST_ERROR:
        limit //= 2
        blocks = _message(form, lock_id, title, _shortened(errors, limit), None, extra, buttons)
    if errors and _size(blocks) > MESSAGE_MAX_CHARS:  # a form that only just fits: its
        blocks = _message(
            form, lock_id, title, None, None, extra, buttons
        )  # answerer's note says why
    if len(blocks) > MESSAGE_MAX_BLOCKS:
        raise ValueError(f"{len(blocks)} blocks do not fit a message: use open_form_blocks")
    return blocks


def _shortened(errors: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """Errors cut to ``limit`` characters each, the first few of each field's (a lease that
    quotes at length would take its lock's message past the size Slack takes)."""
    many = max(1, limit // _SHORTEST_ERROR)
    return {
        key: [cut(m, limit) if isinstance(m, str) else m for m in found[:many]]
        if isinstance(found, list)
        else cut(found, limit)
        if isinstance(found, str)
        else found
        for key, found in errors.items()
    }


def open_form_blocks(
    form: Form,
    *,
    lock_id: str,
    title: str,
    extra: Sequence[Block] = (),
    buttons: Sequence[Block] = (),
) -> list[Block]:
    """A form too big for a message: its text, ``extra`` blocks, and a button opening it
    (then ``buttons``)."""
    title, shown = titled(form, title)
    actions = [*extra, _actions(form, lock_id, open_form=True, more=buttons)]
    return _capped(_header(title), formbody.text_blocks(shown), actions)


def decided_blocks(
    form: Form, *, title: str, outcome: str, answer: list[Block] | None = None
) -> list[Block]:
    """The lock once closed: its text, the answer (``answer``: blocks from ``bot.render.answers``)
    and the outcome line (mrkdwn the bot wrote: mentions and date tokens stay live)."""
    title, shown = titled(form, title)
    line = {"type": "mrkdwn", "text": cut(outcome.strip(), SECTION)}
    tail = (answer or []) + ([{"type": "context", "elements": [line]}] if outcome.strip() else [])
    return _capped(_header(title), formbody.text_blocks(shown), tail)


def modal_view(
    form: Form,
    *,
    title: str,
    callback_id: str,
    private_metadata: str,
    close: str = CLOSE,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The form as a modal. ``close`` labels the button that only closes it (never the form's
    Cancel: closing a lock's modal decides nothing). A heading the title already says is left
    out; another opens the body. Past 100 blocks inputs win: the last display blocks go first.
    ``errors`` (InputsError's wire form) re-render it refused: global messages on top (Slack's
    ``response_action: "errors"`` can only point at inputs), the others under their fields."""
    heading, shown = titled(form, title)
    head = [] if _same(heading, title) else _header(heading)
    glob, fields = _split_errors(shown, errors, modal=True)
    blocks = (
        head
        + formbody.warnings(glob)
        + formbody.form_blocks(shown, modal=True, values=values, errors=fields)
    )
    if len(blocks) > MODAL_MAX_BLOCKS:
        spare = MODAL_MAX_BLOCKS - sum(b["type"] == "input" for b in blocks)
        kept = []
        for block in blocks:
            if block["type"] == "input" or spare > 0:
                kept.append(block)
                spare -= block["type"] != "input"
        blocks = kept[:MODAL_MAX_BLOCKS]
    metadata = _checked_id(private_metadata, _METADATA, "private_metadata")
    return {
        "type": "modal",
        "callback_id": _checked_id(callback_id, ID_MAX, "callback_id"),
        "title": plain(title.strip() or MODAL_TITLE, _VIEW_TEXT),
        "submit": plain(text_of(_find(form, "submit"), "text") or SUBMIT_TEXT, _VIEW_TEXT),
        "close": plain(close, _VIEW_TEXT),
        "blocks": blocks or formbody.sections(EMPTY_FORM_TEXT),
    } | ({"private_metadata": metadata} if metadata else {})


def modal_errors(errors: Mapping[str, list[str]], *, form: Form | None = None) -> dict[str, str]:
    """InputsError's wire form as ``response_action: "errors"``, keyed by input block id.

    Global messages (and, given the form, those for fields it lacks) go to the first input
    block: the form's if given, else the first field with an error; with neither, they drop.
    """
    if form is not None:
        glob, fields = _split_errors(form, errors, modal=True)
        first = next(iter(_fields(form, modal=True)), None)
    else:
        glob = formbody.error_texts(errors.get(GLOBAL))
        fields = {k: formbody.error_texts(v) for k, v in errors.items() if k != GLOBAL}
        first = next((k for k, v in fields.items() if v), None)
    if glob and first is not None:
        fields[first] = glob + fields.get(first, [])
    return {input_block_id(k): cut(" ".join(v), LABEL_MAX) for k, v in fields.items() if v}
