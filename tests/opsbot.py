"""The running bot for the operations tests: as ``tests.slackbot.running_bot``, with settings of
the test's choosing (metrics on, a Slack that hangs, ...), and its other routes at hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Lockstep
from bot.fake.slack import FakeSlack
from bot.loading import load_flows
from flows.engine import Clock
from tests.slackbot import CHANNEL, Bot, settings

FLOWS = "flows.examples.review,flows.examples.deploy,tests.slack_flows"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class OpsBot:
    bot: Bot
    base: str  # http://127.0.0.1:port

    @property
    def lockstep(self) -> Lockstep:
        assert self.bot.lockstep is not None
        return self.bot.lockstep

    async def get(self, path: str, **headers: str) -> tuple[int, str]:
        async with self.bot.http.get(self.base + path, headers=headers) as response:
            return response.status, await response.text()

    async def ready(self) -> tuple[int, dict[str, Any]]:
        async with self.bot.http.get(self.base + "/readyz") as response:
            return response.status, await response.json()

    async def scrape(self, **headers: str) -> Samples:
        status, text = await self.get("/metrics", **headers)
        assert status == 200, text
        return samples(text)


def samples(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@asynccontextmanager
async def ops_bot(
    database_url: str,
    clock: Clock | None = None,
    *,
    api_url: str | None = None,
    **extra: Any,
) -> AsyncIterator[OpsBot]:
    """The real bot over real HTTP on loopback; its Web API is a ``FakeSlack`` unless
    ``api_url`` names another; ``extra``: settings by their variable names."""
    people = ["UALICE", "UBOB", "UCAROL"]
    async with FakeSlack(members={CHANNEL: people}) as slack:
        config = settings(
            slack, database_url, LOCKSTEP_SWEEP_SECONDS=3600, LOCKSTEP_FLOWS=FLOWS, **extra
        )
        if api_url is not None:
            config = config.model_copy(update={"slack_api_url": api_url})
        lockstep = await Lockstep.create(config, load_flows(config.flows), clock)
        server = TestServer(lockstep.web_app(), host="127.0.0.1", port=0)
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                events = str(server.make_url("/slack/events"))
                yield OpsBot(Bot(lockstep, slack, events, http), str(server.make_url("")))
        finally:
            await server.close()
