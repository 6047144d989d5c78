"""kodosumi apps handing the flow, and returning, what plain Python code does (``verdicts``):
a lease's dataclass read by attribute after the replay, a dataclass, bytes or a date as the
run's result; and how they read in Slack and through kodosumi's API shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest

from bot.api.kodosumi_wire import serialize
from bot.api.views import plain
from flows.codec import decode, encode
from store import SQLStore
from tests.kodosumi_apps.verdicts import Verdict
from tests.kodosumi_slack import box, click, ending, merged, started, text, texts
from tests.slackbot import Bot, running_bot


@pytest.fixture
async def bot(db_url: str, store: SQLStore) -> AsyncIterator[Bot]:
    async with running_bot(db_url, flows="tests.kodosumi_apps.verdicts") as running:
        yield running


async def test_a_lease_returning_a_dataclass_reaches_the_flow_as_one(bot: Bot) -> None:
    run = await started(bot, "verdict", text("title", "Q3 plan"))
    run = await click(bot, run, merged(box("approved", True), text("notes", "crisp")))
    assert (run.status, run.error) == ("finished", None)
    assert decode(run.result) == Verdict(True, "UBOB", "crisp", ["checked"])
    assert "*UBOB* says: crisp" in texts(bot, run)
    line, shown = ending(bot, run)
    assert line.startswith("✅ *Approved* by <@UBOB>"), line
    assert "*Reviewer*\nUBOB" in shown and "*Notes*\ncrisp" in shown, shown
    assert plain(run.result) == {
        "approved": True, "reviewer": "UBOB", "notes": "crisp", "tags": ["checked"],
    }  # fmt: skip


async def test_bytes_and_a_date_as_the_result_read_as_what_they_are(bot: Bot) -> None:
    run = await started(bot, "report", {})
    assert (run.status, decode(run.result)) == ("finished", "total: 3 ✓".encode())
    assert ending(bot, run)[1] == "*Result*\ntotal: 3 ✓"
    run = await started(bot, "due", {})
    assert (run.status, decode(run.result)) == ("finished", date(2025, 1, 31))
    assert ending(bot, run)[1] == "*Result*\nJan 31, 2025"  # not under a "$date" label


async def test_a_result_with_values_json_cannot_write_finishes_with_their_text(bot: Bot) -> None:
    """Never replayed, a run's result need not come back as it was: a UUID or a Decimal in it
    is kept as its text, where a lease's or a step's would be refused."""
    run = await started(bot, "ticket", {})
    assert (run.status, run.error) == ("finished", None)
    assert run.result == {"id": "12345678-1234-5678-1234-567812345678", "cost": "9.50"}


def test_a_dataclass_is_recorded_by_its_path_and_read_back() -> None:
    verdict = Verdict(False, "UANN", "later")
    assert decode(encode({"v": verdict, "raw": b"\xff\x00"})) == {"v": verdict, "raw": b"\xff\x00"}
    assert serialize(verdict) == {
        "Verdict": {"approved": False, "reviewer": "UANN", "notes": "later", "tags": []}
    }
