"""Webhooks out, through the running bot: events written to the outbox with the change they
announce, delivered to a receiver on a loopback port, signed the Standard Webhooks way; a
receiver that is down gets every event once it is back, each accepted once under its id, and
holds no Slack message back."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from bot.cli.admin import new_secret
from bot.webhooks import _seconds
from flows.engine import FakeClock
from store import SQLStore
from tests.apiclient import Api, base_of, validate
from tests.slackbot import CHANNEL, running_bot
from tests.webhook_receiver import Receiver, verified

EVERY = [
    "lock.opened", "lock.decided", "lock.expired", "run.finished", "run.failed", "run.cancelled",
]  # fmt: skip
GATE = {"flow": "gate", "inputs": {"service": "web"}, "channel": CHANNEL}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    yield found
    await found.stop()


@pytest.fixture
async def api(db_url: str, store: SQLStore) -> AsyncIterator[Api]:
    async with running_bot(db_url, more_flows="tests.api_flows") as bot:
        yield Api(bot, base_of(bot))


async def subscribe(api: Api, url: str, events: list[str] = EVERY) -> str:
    secret = new_secret()
    await api.store.add_webhook(url, secret, events, time.time())
    return secret


async def gate_run(api: Api, token: str) -> dict[str, Any]:
    started = await api.call("POST", "/api/v1/runs", token, GATE)
    assert started.status == 201
    return dict(started.body)


async def approve(api: Api, token: str, run: dict[str, Any]) -> None:
    path = f"/api/v1/locks/{run['locks'][0]['id']}/answer"
    assert (await api.call("POST", path, token, {"inputs": {"replicas": "2"}})).status == 200


async def test_events_are_signed_the_standard_webhooks_way(api: Api, receiver: Receiver) -> None:
    secret = await subscribe(api, await receiver.start())
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await gate_run(api, token)
    await approve(api, token, run)
    await receiver.wait_for({"lock.opened", "lock.decided", "run.finished"})
    doc = await api.doc()
    schema = doc["webhooks"]["run.finished"]["post"]["requestBody"]["content"]
    for delivery in receiver.deliveries:
        body = verified(secret, delivery)  # the package's own verification
        validate(doc, schema["application/json"]["schema"], body)
        assert body["data"]["run"]["id"] == run["id"]
        with pytest.raises(WebhookVerificationError):
            verified(new_secret(), delivery)
        with pytest.raises(WebhookVerificationError):
            verified(secret, type(delivery)(delivery.headers, delivery.body + b" ", 200))
    types = [d.event["type"] for d in receiver.deliveries]
    assert types == ["lock.opened", "lock.decided", "run.finished"]
    assert len({d.id for d in receiver.deliveries}) == 3
    decided = receiver.deliveries[1].event["data"]
    assert decided["lock"]["decided_by"] == "api:ci" and decided["lock"]["status"] == "resolved"
    finished = receiver.deliveries[2].event["data"]["run"]
    assert (finished["status"], finished["outcome"]) == ("finished", "approved")
    assert finished["slack_url"].startswith("https://")


async def test_a_receiver_down_for_a_while_gets_every_event_once(
    api: Api, receiver: Receiver
) -> None:
    receiver.down, receiver.retry_after = 503, "0.2"
    secret = await subscribe(api, await receiver.start())
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await gate_run(api, token)
    await approve(api, token, run)
    await api.bot.lockstep.engine.idle()
    # Slack was not held back by the receiver
    assert api.bot.slack.messages(CHANNEL)[0]["text"].endswith("approved by ci")
    while len({d.id for d in receiver.deliveries}) < 3 or len(receiver.deliveries) < 5:
        receiver.changed.clear()
        await asyncio.wait_for(receiver.changed.wait(), 10)  # retried, as Retry-After says
    receiver.down = None
    await receiver.wait_for({"lock.opened", "lock.decided", "run.finished"})
    await api.bot.lockstep.engine.idle()
    accepted = [d.id for d in receiver.accepted]
    assert len(accepted) == len(set(accepted)) == 3  # each accepted once
    by_id: dict[str, set[tuple[str, str, str | None]]] = {}
    for delivery in receiver.deliveries:
        body = verified(secret, delivery)
        lock = body["data"]["lock"]
        about = (body["type"], body["data"]["run"]["id"], lock["id"] if lock else None)
        by_id.setdefault(delivery.id, set()).add(about)
    assert all(len(events) == 1 for events in by_id.values())  # a retry is the same event
    backlog, _ = await api.bot.lockstep.engine.backlog()
    assert backlog == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
async def test_an_unreachable_receiver_gets_its_events_when_it_comes_up(
    api: Api, receiver: Receiver
) -> None:
    port = _free_port()
    await subscribe(api, f"http://127.0.0.1:{port}/hook", ["lock.opened"])
    token = await api.token("ci", start=("gate",), answer=("*",))
    await gate_run(api, token)
    await api.bot.lockstep.engine.idle()
    await asyncio.sleep(0.2)  # its first attempt failed: nothing listens
    assert receiver.deliveries == []
    await receiver.start(port)
    await receiver.wait_for({"lock.opened"}, timeout=15)  # after the backoff
    assert len(receiver.accepted) == 1


async def test_only_subscribed_events_go_and_removed_ones_stop(
    api: Api, receiver: Receiver
) -> None:
    url = await receiver.start()
    await subscribe(api, url, ["run.cancelled"])
    gone = await subscribe(api, url, EVERY)
    [_, removed] = await api.store.webhooks()
    assert await api.store.remove_webhook(removed.id, time.time())
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await gate_run(api, token)
    cancelled = await api.call("POST", f"/api/v1/runs/{run['id']}/cancel", token, {})
    assert cancelled.status == 200
    await receiver.wait_for({"run.cancelled"})
    await api.bot.lockstep.engine.idle()
    assert [d.event["type"] for d in receiver.deliveries] == ["run.cancelled"]
    assert gone  # that subscription's secret signed nothing


async def test_a_deadline_is_announced_as_expired(db_url: str, store: SQLStore) -> None:
    clock = FakeClock(time.time())
    receiver = Receiver()
    async with running_bot(db_url, clock, more_flows="tests.api_flows") as bot:
        api = Api(bot, base_of(bot))
        await subscribe(api, await receiver.start(), ["lock.expired", "run.failed"])
        token = await api.token("ci", start=("gate",))
        run = await gate_run(api, token)
        clock.advance(4 * 3600)  # past the lock's 3 hours
        assert await bot.lockstep.engine.fire_due() == 1
        await receiver.wait_for({"lock.expired", "run.failed"})
        types = sorted(d.event["type"] for d in receiver.deliveries)
        assert types == ["lock.expired", "run.failed"]
        failed = next(d.event for d in receiver.deliveries if d.event["type"] == "run.failed")
        assert failed["data"]["run"]["id"] == run["id"]
        assert failed["data"]["run"]["outcome"] == "expired"
        await receiver.stop()


async def test_a_receiver_that_is_down_holds_back_no_other(api: Api, receiver: Receiver) -> None:
    down = Receiver(down=500)
    await subscribe(api, await down.start(), ["lock.opened"])
    await subscribe(api, await receiver.start(), ["lock.opened"])
    token = await api.token("ci", start=("gate",))
    await gate_run(api, token)
    await receiver.wait_for({"lock.opened"}, timeout=5)
    while not down.deliveries:  # tried too, and refused
        down.changed.clear()
        await asyncio.wait_for(down.changed.wait(), 5)
    assert down.accepted == [] and len(receiver.accepted) == 1
    await down.stop()


@pytest.mark.parametrize("retry_after", ["0", "-5", "nan", "0.001"])
async def test_a_receiver_asking_to_be_retried_at_once_is_not_hammered(
    api: Api, retry_after: str
) -> None:
    """A 503 whose ``Retry-After`` asks for no wait (0, a fraction, negative, not a number)
    waits a second at least, or backs off as usual: it was retried in a tight loop, dozens of
    times a second, for as long as the receiver stayed down."""
    down = Receiver(down=503, retry_after=retry_after)
    await subscribe(api, await down.start(), ["lock.opened"])
    token = await api.token("ci", start=("gate",))
    try:
        await gate_run(api, token)
        await asyncio.sleep(2.5)
    finally:
        await down.stop()
    assert 1 <= len(down.deliveries) <= 4, len(down.deliveries)
    assert _seconds(retry_after) in (None, 1.0)
    assert (_seconds("30"), _seconds("inf"), _seconds("soon")) == (30.0, None, None)
