"""Local mode shows what Slack would: each pretend user's App Home (published by the bot through
the outbox), the "Start a flow" shortcut, direct messages (the audit file), late clicks from a
stale page, and a restart in the middle of a run (the page is rebuilt from the store)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.loading import load_flows
from bot.local.run import LocalBot, local_bot
from bot.render import home
from bot.settings import EXAMPLE_FLOWS, Settings
from tests.localbot import Snapshot, until

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
CHANNEL = "C0LOCKSTEP"


def settings(tmp_path: Path) -> Settings:
    return Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'local.db'}", PORT=0, LOCKSTEP_SWEEP_SECONDS=3600
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(http: aiohttp.ClientSession, bot: LocalBot, path: str, **body: Any) -> Any:
    async with http.post(bot.url + path.lstrip("/"), json=body) as response:
        return await response.json()


def waiting(snapshot: Snapshot) -> list[str]:
    """The lock ids the person's Home offers to answer."""
    view = snapshot["home"] or {"blocks": []}
    return [
        b["accessory"]["value"]
        for b in view["blocks"]
        if (b.get("accessory") or {}).get("action_id") == home.ANSWER_ACTION
    ]


def approval(snapshot: Snapshot) -> dict[str, Any]:
    return next(
        m
        for m in snapshot["messages"]
        if "Deploy approval" in m["text"] and m.get("thread_ts") != m["ts"] and "thread_ts" in m
    )


async def test_home_shortcut_and_direct_messages(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with local_bot(settings(tmp_path), load_flows(EXAMPLE_FLOWS)) as local:
        standin = local.standin
        assert await post(http, local, "/local/home", user=BOB) == {"ok": True}
        seen = await until(standin, BOB, lambda s: s["home"])
        assert waiting(seen) == [] and standin.snapshot(ALICE)["home"] is None

        # Alice starts a deploy from the shortcut: choose the flow and channel, then its form
        await post(http, local, "/local/shortcut", user=ALICE, callback_id=home.START_SHORTCUT)
        seen = await until(
            standin, ALICE, lambda s: s["modal"]["callback_id"] == home.CHOOSE_CALLBACK
        )
        chooser = seen["modal"]["id"]
        chosen = {
            home.CHOOSE_FLOW: {home.CHOOSE_FLOW: "deploy"},
            home.CHOOSE_CHANNEL: {home.CHOOSE_CHANNEL: CHANNEL},
        }
        await post(http, local, "/local/submit", user=ALICE, view_id=chooser, values=chosen)
        await until(standin, ALICE, lambda s: s["modal"]["callback_id"] == "lockstep_entry")
        values = {"f_service": {"service": "api"}, "f_version": {"version": "1.2.3"}}
        await post(http, local, "/local/submit", user=ALICE, view_id=chooser, values=values)

        # Bob's Home lists it (he opened it once); he answers from there
        seen = await until(standin, BOB, lambda s: waiting(s))
        [lock_id] = waiting(seen)
        answer = await post(
            http, local, "/local/view-action", user=BOB, view_id=seen["home"]["id"],
            block_id=f"wait:{lock_id}", action_id=home.ANSWER_ACTION, value=lock_id,
        )  # fmt: skip
        assert answer == {"ok": True}
        seen = await until(standin, BOB, lambda s: s["modal"]["callback_id"] == "lockstep_lock")
        comment = {"f_comment": {"comment": "ship it"}}
        await post(
            http, local, "/local/submit", user=BOB, view_id=seen["modal"]["id"], values=comment
        )
        seen = await until(
            standin, BOB, lambda s: not waiting(s) and "Approved by" in approval(s)["text"]
        )

        # Carol's page still showed the form: her late click is told who answered it
        late = await post(
            http, local, "/local/action", user=CAROL, channel=CHANNEL, ts=approval(seen)["ts"],
            block_id="lock_actions", action_id="lockstep_submit", value=lock_id, values={},
        )  # fmt: skip
        assert late == {"ok": True}
        await until(
            standin,
            CAROL,
            lambda s: any("Already answered by <@U0BOB>" in e["text"] for e in s["ephemerals"]),
        )

        # /flow audit: the file arrives in Alice's direct messages with the app, as in Slack
        run = (await local.lockstep.engine.runs(initiator=ALICE))[0]
        await post(http, local, "/local/command", user=ALICE, text=f"/flow audit {run.id[:8]}")
        seen = await until(standin, ALICE, lambda s: s["files"])
        [file] = seen["files"]
        assert file["name"] == f"lockstep-{run.id}.json" and "Audit trail of" in file["comment"]
        assert standin.snapshot(BOB)["files"] == []


async def test_a_restart_in_the_middle_of_a_run_brings_its_forms_back(
    tmp_path: Path, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async with local_bot(settings(tmp_path), load_flows(EXAMPLE_FLOWS)) as local:
        await post(http, local, "/local/command", user=ALICE, text="/flow start deploy")
        seen = await until(local.standin, ALICE, lambda s: s["modal"])
        values = {"f_service": {"service": "api"}, "f_version": {"version": "1.2.3"}}
        await post(
            http, local, "/local/submit", user=ALICE, view_id=seen["modal"]["id"], values=values
        )
        await until(local.standin, BOB, approval)
        await local.lockstep.engine.idle()

    caplog.set_level(logging.INFO)
    async with local_bot(settings(tmp_path), load_flows(EXAMPLE_FLOWS)) as local:
        # a fresh fake Slack: the run's message and its open form are posted again
        seen = await until(
            local.standin, BOB, lambda s: approval(s)["blocks"][-1]["type"] == "actions"
        )
        [parent] = [
            m for m in seen["messages"] if "thread_ts" not in m or m["thread_ts"] == m["ts"]
        ]
        assert "awaiting" in parent["text"]
        run = (await local.lockstep.engine.runs(initiator=ALICE))[0]
        await post(http, local, "/local/command", user=ALICE, text=f"/flow cancel {run.id[:8]}")
        await until(local.standin, ALICE, lambda s: "cancelled" in s["messages"][0]["text"])
        await until(local.standin, BOB, lambda s: "Cancelled" in approval(s)["text"])
        await local.lockstep.engine.idle()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "message_not_found" not in caplog.text


async def test_an_escalation_reaches_the_persons_direct_messages(tmp_path: Path) -> None:
    flows = load_flows([*EXAMPLE_FLOWS, "tests.local_flows"])
    async with local_bot(settings(tmp_path), flows) as local, aiohttp.ClientSession() as http:
        await post(http, local, "/local/command", user=ALICE, text="/flow start escalating")
        seen = await until(local.standin, CAROL, lambda s: s["direct"], timeout=15)
        [dm] = seen["direct"]
        assert dm["text"].startswith("📣 You have been asked to answer *Urgent* in <#C0LOCKSTEP>")
        assert "<https://example.slack.test/archives/C0LOCKSTEP/p" in dm["text"]
        assert local.standin.snapshot(BOB)["direct"] == []  # Bob's was the lock all along
