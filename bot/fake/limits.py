"""What Slack refuses to show: the fake Slack's check of every message and view it is sent.

Slack refuses a whole message or view for one bad block, so each is checked as Slack would:
every block through slack_sdk's models (an unknown type, a field Slack does not know, or a
text, option or element past its limit is ``invalid_blocks``), the limits slack_sdk does not
check (50 blocks in a message, ``max_length`` of a text input), and the sizes Slack measures
(a message's text, its blocks' JSON). This makes every test that drives the bot a check of the
bot's surfaces against Slack's limits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.fake.wire import Args, Refused

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
TEXT_CHARS = 40_000  # a message's ``text``
BLOCKS_CHARS = 12_000  # a message's blocks as JSON; Slack fails near 13k (msg_blocks_too_long)
INPUT_MAX_LENGTH = 3000  # ``plain_text_input.max_length``
OPTION_VALUE, OPTION_TEXT = 150, 75
FEW_OPTIONS = {"radio_buttons": 10, "checkboxes": 10}  # options Slack shows as a list
FIELD_CHARS, CONTEXT_CHARS = 2000, 3000  # a section field's text, a context element's


def check_message(args: Args) -> None:
    """A message's content (``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``, a
    response URL's post), refused as Slack refuses it."""
    text = args.get("text")
    if isinstance(text, str) and len(text) > TEXT_CHARS:
        raise Refused("msg_too_long")
    if "blocks" not in args:
        return
    blocks = args["blocks"]
    if not isinstance(blocks, list) or len(blocks) > MESSAGE_BLOCKS:
        raise Refused("invalid_blocks")
    _check_blocks(blocks)
    if len(json.dumps(blocks, ensure_ascii=False)) > BLOCKS_CHARS:
        raise Refused("msg_blocks_too_long")


def check_view(view: Args) -> None:
    """A modal or Home tab (``views.open``/``update``/``push``/``publish``)."""
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or len(blocks) > VIEW_BLOCKS:
        raise Refused("invalid_blocks")
    _check_blocks(blocks)
    try:
        parsed = View(**view).to_dict()
    except (SlackObjectFormationError, TypeError, ValueError):
        raise Refused("invalid_arguments") from None
    if parsed != {k: v for k, v in view.items() if v != ""}:
        raise Refused("invalid_arguments")


def _check_blocks(blocks: list[Any]) -> None:
    """Each block, and their ``block_id``s unique (Slack refuses a surface with two alike)."""
    for block in blocks:
        _check_block(block)
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(ids) != len(set(ids)):
        raise Refused("invalid_blocks")


def _check_block(block: Any) -> None:
    if not isinstance(block, dict):
        raise Refused("invalid_blocks")
    try:
        parsed = Block.parse(block)
        same = parsed is not None and parsed.to_dict() == block
    except (SlackObjectFormationError, TypeError, ValueError, KeyError):
        same = False
    if not same or not all(_within(o) for o in _objects(block)) or not _sized(block):
        raise Refused("invalid_blocks")


def _sized(block: dict[str, Any]) -> bool:
    """What slack_sdk's parse leaves unchecked in a block itself: its fields' and context
    texts' lengths, its elements' ``action_id``s unique."""
    fields = [f.get("text", "") for f in block.get("fields") or [] if isinstance(f, dict)]
    if any(len(str(t)) > FIELD_CHARS for t in fields):
        return False
    elements = [e for e in block.get("elements") or [] if isinstance(e, dict)]
    if block.get("type") == "context":
        return all(len(str(e.get("text", ""))) <= CONTEXT_CHARS for e in elements)
    actions = [e["action_id"] for e in elements if "action_id" in e]
    return len(actions) == len(set(actions))


def _within(obj: dict[str, Any]) -> bool:
    """The limits slack_sdk's parse leaves unchecked: a text input's ``max_length`` and initial
    value, options' values and texts (in selects, checkboxes and radio buttons, and their
    initial options), how many options radio buttons and checkboxes have."""
    if obj.get("type") == "plain_text_input":
        most = obj.get("max_length")
        most = most if isinstance(most, int) else INPUT_MAX_LENGTH
        return most <= INPUT_MAX_LENGTH and len(str(obj.get("initial_value", ""))) <= most
    options = [*(obj.get("options") or []), *(obj.get("initial_options") or [])]
    few = FEW_OPTIONS.get(str(obj.get("type")))
    if few is not None and len(obj.get("options") or []) > few:
        return False
    options += [obj["initial_option"]] if isinstance(obj.get("initial_option"), dict) else []
    return all(
        isinstance(o, dict)
        and len(str(o.get("value", ""))) <= OPTION_VALUE
        and len(str((o.get("text") or {}).get("text", ""))) <= OPTION_TEXT
        for o in options
    )


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for inner in value.values():
            yield from _objects(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _objects(inner)
