"""``/metrics``: scraped after real runs through the Bolt app, every figure asserted against
what happened (the fake Slack's own record of calls, the clock the test moved)."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.metrics import Metrics
from flows.engine import FakeClock, NullObserver, ports
from store import SQLStore
from tests.opsbot import OpsBot, ops_bot, value
from tests.slackbot import start_without_form
from tests.test_ports import assert_implements

TOKEN = "metrics-token-0123456789"


@pytest.mark.parametrize("observer", [Metrics(), NullObserver()], ids=["metrics", "null"])
def test_every_observer_implements_the_port(observer: object) -> None:
    assert_implements(observer, ports.Observer)


async def settle(ops: OpsBot) -> None:
    await ops.lockstep.handlers.drain()
    await ops.lockstep.engine.idle()


async def test_a_scrape_after_runs_counts_what_happened(db_url: str, store: SQLStore) -> None:
    clock = FakeClock()
    async with ops_bot(db_url, clock, LOCKSTEP_METRICS="on") as ops:
        bot, engine = ops.bot, ops.lockstep.engine
        approved = await start_without_form(bot, "ship")
        clock.advance(90)
        await bot.click(approved, "lockstep_submit", "UBOB")
        await bot.slack.wait_for("chat.postMessage", count=3)  # parent, lock, ending
        await settle(ops)

        rejected = await start_without_form(bot, "ship")
        await bot.click(rejected, "lockstep_cancel", "UBOB")
        await bot.slack.wait_for("chat.postMessage", count=6)
        await settle(ops)

        bot.slack.fail_next("chat.postMessage", status=429, retry_after=1)  # its first message
        assert (await bot.command("start nudged"))[0] == 200
        await bot.slack.wait_for("chat.postMessage", count=7)  # refused
        await settle(ops)
        clock.advance(2)  # past Retry-After
        await engine.sweep()
        await settle(ops)
        await bot.slack.wait_for("chat.postMessage", count=9)  # parent, lock
        clock.advance(3600 + 5)  # its first reminder (an hour after it opened) fires 7 s late
        assert await engine.fire_due() == 1
        await settle(ops)

        bot.slack.fail_next("chat.postEphemeral", error="channel_not_found")
        await bot.click(approved, "lockstep_submit", "UCAROL")  # too late: a private note
        await bot.slack.wait_for("chat.postEphemeral")  # refused: nowhere to say more
        await settle(ops)

        found = await ops.scrape()

    assert value(found, "lockstep_runs_started_total", flow="ship") == 2
    assert value(found, "lockstep_runs_started_total", flow="nudged") == 1
    assert value(found, "lockstep_runs_ended_total", flow="ship", outcome="finished") == 2
    assert value(found, "lockstep_runs_ended_total", flow="nudged", outcome="finished") == 0
    assert value(found, "lockstep_open_locks", flow="nudged") == 1
    assert value(found, "lockstep_open_locks", flow="ship") == 0

    decided = "lockstep_lock_decision_seconds"
    resolved = {"flow": "ship", "outcome": "resolved"}
    assert value(found, f"{decided}_count", **resolved) == 1
    assert value(found, f"{decided}_sum", **resolved) == 90
    assert value(found, f"{decided}_bucket", **resolved, le="60.0") == 0
    assert value(found, f"{decided}_bucket", **resolved, le="300.0") == 1
    rejected_labels = {"flow": "ship", "outcome": "rejected"}
    assert value(found, f"{decided}_count", **rejected_labels) == 1
    assert value(found, f"{decided}_sum", **rejected_labels) == 0

    assert value(found, "lockstep_timer_lag_seconds_count", kind="remind") == 1
    assert value(found, "lockstep_timer_lag_seconds_sum", kind="remind") == 7

    assert value(found, "lockstep_outbox_backlog") == 0
    assert value(found, "lockstep_outbox_oldest_seconds") == 0
    assert value(found, "lockstep_outbox_delivery_failures_total", kind="run") == 1
    assert value(found, "lockstep_store_up") == 1
    shown = sum(v for (n, _), v in found.items() if n == "lockstep_outbox_delivered_total")
    posted = [c for c in bot.slack.calls if c.method in ("chat.postMessage", "chat.update")]
    assert shown == len([c for c in posted if c.response.get("ok")]) >= 10

    web_api = Counter(c.method for c in bot.slack.calls if c.method != "response_url")
    for method, count in web_api.items():
        assert value(found, "lockstep_slack_api_calls_total", method=method) == count, method
    errors = {
        (dict(labels)["method"], dict(labels)["error"]): v
        for (name, labels), v in found.items()
        if name == "lockstep_slack_api_errors_total"
    }
    assert errors == {
        ("chat.postMessage", "ratelimited"): 1,
        ("chat.postEphemeral", "channel_not_found"): 1,
    }

    requests = "lockstep_request_seconds_count"
    assert value(found, requests, kind="slash_command", status="200") == 3
    assert value(found, requests, kind="block_actions", status="200") == 3
    assert value(found, "lockstep_request_seconds_sum", kind="block_actions", status="200") > 0


async def test_metrics_are_off_unless_asked_for(tmp_path: object) -> None:
    async with ops_bot(f"sqlite:///{tmp_path}/off.db") as ops:
        assert (await ops.get("/metrics"))[0] == 404


async def test_a_metrics_token_is_required_when_set(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path}/token.db"
    async with ops_bot(url, LOCKSTEP_METRICS="on", LOCKSTEP_METRICS_TOKEN=TOKEN) as ops:
        status, _ = await ops.get("/metrics")
        assert status == 401
        for _ in range(20):
            assert (await ops.get("/metrics", Authorization="Bearer wrong-token"))[0] == 401
        found = await ops.scrape(Authorization=f"Bearer {TOKEN}")
        assert value(found, "lockstep_store_up") == 1
        unauthorised = value(found, "lockstep_request_seconds_count", kind="metrics", status="401")
        assert unauthorised == 21
    said = [r.getMessage() for r in caplog.records if "metrics scrape" in r.getMessage()]
    assert said == ["refused a metrics scrape: no valid token"]  # one line, then one a minute
    assert "wrong-token" not in caplog.text and TOKEN not in caplog.text
