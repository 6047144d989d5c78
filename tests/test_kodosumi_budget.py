"""``InputsError`` given what is not text (``budget``): an exception caught, a number; each is
one message, its text, under its field (a ``TypeError`` failed the lease instead)."""

from __future__ import annotations

from flows.errors import GLOBAL, InputsError
from store import SQLStore
from tests.kodosumi_slack import block, click, open_lock, started, text
from tests.slackbot import running_bot


async def test_a_caught_exception_as_a_field_s_message(db_url: str, store: SQLStore) -> None:
    async with running_bot(db_url, flows="tests.kodosumi_apps.budget") as bot:
        run = await started(bot, "budget", {})
        run = await click(bot, run, text("amount", "12k"))
        assert run.status == "awaiting"
        hint = block(open_lock(bot, run), "amount")["hint"]["text"]
        assert "could not convert string to float: '12k'" in hint, hint
        run = await click(bot, run, text("amount", "-5"))
        assert block(open_lock(bot, run), "amount")["hint"]["text"].endswith(" -5.0")
        run = await click(bot, run, text("amount", "1200"))
        assert (run.status, run.result) == ("finished", {"amount": 1200.0})


def test_messages_that_are_not_text_are_one_message_each() -> None:
    error = InputsError(n=3, why=ValueError("bad"), several=("a", 2))
    assert error.wire() == {"n": ["3"], "why": ["bad"], "several": ["a", "2"], GLOBAL: []}
