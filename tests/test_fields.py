"""Reading a form-encoded body: an interaction's payload is decoded as ``parse_qsl`` decodes
it, whatever it holds (its escapes decoded in C, the odd ones by ``unquote``)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, quote_plus, unquote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from bot.fields import FORM, form_value, read_body

# pieces of form values: escapes whole, cut short and malformed, bytes that are no UTF-8, and
# what a decoder might take for an escape of its own
PIECES = st.sampled_from(
    ["%41", "%e2%9c%85", "%E2%9C", "%ff", "%00", "%0A", "%25", "%5C", "%5Cx41", "%5Cu0041",
     "%", "%4", "%zz", "%%", "+", "\\", "\\x41", "\\u0041", "\\N{DASH}", "a", "é", "✅", "="]
)  # fmt: skip


@given(st.lists(PIECES | st.text(max_size=4), max_size=12).map("".join))
def test_a_form_value_is_decoded_as_unquote_decodes_it(value: str) -> None:
    assert form_value(value) == unquote(value.replace("+", " "))


@given(st.text())
def test_any_text_encoded_comes_back_as_it_was(text: str) -> None:
    assert form_value(quote_plus(text)) == text


def test_an_interaction_s_payload_is_read_as_parse_qsl_reads_it() -> None:
    payload = {"type": "block_actions", "text": 'a \\ "quoted" 100% ✅ & = + line\nbreak'}
    body = urlencode({"payload": json.dumps(payload)})
    assert [("payload", json.dumps(payload))] == parse_qsl(body)
    assert read_body(body.encode(), FORM) == payload
