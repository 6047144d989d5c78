"""Slack's signatures checked strictly, and the bot's seal on private_metadata (pure)."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from bot.fake.signing import sign, signed_headers
from bot.seal import Seal
from bot.signature import MAX_AGE, Verifier

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000


def test_a_request_signed_with_the_secret_is_valid() -> None:
    body = b"token=x&command=/flow&text=list"
    verifier = Verifier(SECRET)
    assert verifier.valid(signed_headers(SECRET, body, timestamp=NOW), body, NOW)
    assert verifier.valid(signed_headers(SECRET, body), body, time.time())
    assert verifier.sign(str(NOW), body) == sign(SECRET, NOW, body)


def test_anything_else_is_not() -> None:
    body = b"command=/flow"
    verifier = Verifier(SECRET)
    good = signed_headers(SECRET, body, timestamp=NOW)
    assert not verifier.valid(good, body + b" ", NOW)  # another body
    assert not verifier.valid(signed_headers("other", body, timestamp=NOW), body, NOW)
    assert not verifier.valid(good, body, NOW + MAX_AGE + 1)  # too old: a replay
    assert not verifier.valid(good, body, NOW - MAX_AGE - 1)  # from the future
    assert verifier.valid(good, body, NOW + MAX_AGE)
    for timestamp in ["abc", "1e9", "", "0x10", "12.5", f" {NOW}", f"+{NOW}", "١٢٣", "9" * 13]:
        headers = good | {"X-Slack-Request-Timestamp": timestamp}
        assert not verifier.valid(headers, body, NOW), timestamp
    for signature in [good["X-Slack-Signature"].upper(), "v1=" + "0" * 64, "v0=" + "g" * 64, ""]:
        assert not verifier.valid(good | {"X-Slack-Signature": signature}, body, NOW)
    assert not verifier.valid({}, body, NOW)


@given(st.dictionaries(st.text(max_size=30), st.text(max_size=80)), st.binary(max_size=200))
def test_no_headers_and_body_make_it_raise(headers: dict[str, str], body: bytes) -> None:
    assert Verifier(SECRET).valid(headers, body, NOW) in (True, False)


def test_a_seal_opens_only_what_it_closed() -> None:
    seal = Seal(SECRET)
    closed = seal.close('{"flow": "deploy", "channel": "C1"}')
    assert seal.open(closed) == '{"flow": "deploy", "channel": "C1"}'
    assert Seal(SECRET).open(closed) is not None  # another process with the same secret
    assert Seal("another secret").open(closed) is None
    assert seal.open(closed.replace("C1", "C2")) is None
    assert seal.open(closed.split(".", 1)[1]) is None
    assert seal.open("") is None and seal.open(".") is None
    assert len(closed) < len('{"flow": "deploy", "channel": "C1"}') + 24


@given(st.text(max_size=300))
def test_a_seal_never_raises(text: str) -> None:
    seal = Seal(SECRET)
    assert seal.open(text) in (None, text.partition(".")[2])
    assert seal.open(seal.close(text)) == text
