"""Local mode without a browser: the page's HTTP API drives the real bot through signed Slack
payloads, and what each pretend user sees follows the fake Slack's change feed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.loading import load_flows
from bot.local.run import LocalBot, local_bot
from bot.settings import EXAMPLE_FLOWS, Settings, SettingsError
from tests.localbot import Snapshot, local_env, local_process, until
from tests.slackbot import fields

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalBot]:
    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'local.db'}", PORT=0, LOCKSTEP_SWEEP_SECONDS=3600
    )
    async with local_bot(settings, load_flows(EXAMPLE_FLOWS)) as bot:
        yield bot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, bot: LocalBot, path: str, **body: Any
) -> dict[str, Any]:
    async with http.post(bot.url + path.lstrip("/"), json=body) as response:
        answer: dict[str, Any] = await response.json()
        return answer


def lock(snapshot: Snapshot, title: str) -> dict[str, Any]:
    return next(
        m
        for m in snapshot["messages"]
        if m.get("blocks") and m["blocks"][0].get("text", {}).get("text") == title
    )


def said(snapshot: Snapshot, text: str) -> bool:
    return any(text in e["text"] for e in snapshot["ephemerals"])


async def answer(
    http: aiohttp.ClientSession, bot: LocalBot, user: str, message: dict[str, Any], **values: Any
) -> None:
    found = await post(
        http,
        bot,
        "/local/action",
        user=user,
        channel="C0LOCKSTEP",
        ts=message["ts"],
        block_id="lock_actions",
        action_id="lockstep_submit",
        values={f"f_{k}": {k: v} for k, v in values.items()},
    )
    assert found == {"ok": True}


async def test_a_document_review_through_the_page_api(
    local: LocalBot, http: aiohttp.ClientSession
) -> None:
    standin = local.standin
    assert await post(http, local, "/local/command", user=ALICE, text="/flow start review") == {
        "ok": True
    }
    seen = await until(standin, ALICE, lambda s: s["modal"]["callback_id"] == "lockstep_entry")
    assert standin.snapshot(BOB)["modal"] is None  # a modal is for whoever triggered it
    view_id = seen["modal"]["id"]

    await post(http, local, "/local/submit", user=ALICE, view_id=view_id, values={})
    seen = await until(standin, ALICE, lambda s: s["modal_errors"])
    assert seen["modal_errors"] == {"f_document": "This field is required."}
    values = {"f_document": {"document": "Q3 plan"}}
    await post(http, local, "/local/submit", user=ALICE, view_id=view_id, values=values)
    seen = await until(standin, BOB, lambda s: lock(s, "Content review"))
    assert standin.snapshot(ALICE)["modal"] is None
    [parent] = [m for m in seen["messages"] if "thread_ts" not in m]
    assert "started by <@U0ALICE>" in parent["text"]

    content = lock(seen, "Content review")
    await answer(http, local, BOB, content, score="2")
    seen = await until(standin, BOB, lambda s: said(s, "Please explain a score below 3."))
    assert not said(standin.snapshot(ALICE), "Please explain")  # ephemeral: Bob's only
    seen = await until(
        standin, BOB, lambda s: "Please explain" in json.dumps(lock(s, "Content review"))
    )  # and under the field, for everyone
    await answer(http, local, BOB, content, score="2", comments="Tighten the intro")
    seen = await until(standin, CAROL, lambda s: lock(s, "Final review"))

    final = lock(seen, "Final review")
    await answer(http, local, ALICE, final, publish=["on"])  # four-eyes: not the author
    await until(standin, ALICE, lambda s: said(s, "someone else has to decide"))
    await answer(http, local, CAROL, final, publish=["on"])
    seen = await until(
        standin, CAROL, lambda s: any("✅ *Approved*" in m["text"] for m in s["messages"])
    )
    assert fields(seen["messages"][-1])["Published"] == "Yes"
    replies = [m for m in seen["messages"] if m["ts"] != parent["ts"]]
    assert len(replies) == 5 and all(m["thread_ts"] == parent["ts"] for m in replies)
    users = [c.args["user"] for c in local.slack.calls_to("users.info")]
    assert users == []  # names come from the page's people; users.info answers if asked


async def test_command_answers_are_private_and_unknown_lines_explained(
    local: LocalBot, http: aiohttp.ClientSession
) -> None:
    await post(http, local, "/local/command", user=BOB, text="/flow list")
    seen = await until(local.standin, BOB, lambda s: said(s, "`review`: Document review"))
    assert seen["ephemerals"][0]["user"] == BOB
    assert local.standin.snapshot(ALICE)["ephemerals"] == []
    await post(http, local, "/local/command", user=BOB, text="hello there")
    await until(local.standin, BOB, lambda s: said(s, "Plain messages: in local mode, try"))
    await post(http, local, "/local/command", user=BOB, text="/deploy now")
    await until(local.standin, BOB, lambda s: said(s, "`/deploy` is not a command here"))


async def test_the_page_is_for_loopback_and_same_origin_json_only(
    local: LocalBot, http: aiohttp.ClientSession
) -> None:
    async with http.get(local.url) as page:
        assert page.status == 200 and page.content_type == "text/html"
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert "<title>" in await page.text()
    async with http.get(local.url, headers={"Host": "evil.example"}) as rebound:
        assert rebound.status == 403
    command = local.url + "local/command"
    body = {"user": ALICE, "text": "/flow list"}
    async with http.post(command, json=body, headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 403
    async with http.post(command, data=body) as r:
        assert r.status == 415
    async with http.post(command, json={"user": "UNOBODY", "text": "/flow list"}) as r:
        assert r.status == 400 and "no pretend user" in (await r.json())["error"]
    async with http.post(local.url + "slack/events", data=b"command=%2Fflow") as r:
        assert r.status == 401  # the bot's endpoint still wants Slack's signature
    async with http.get(local.url + "local/state") as r:
        assert (await r.json())["me"] == ALICE  # the first person by default
    assert local.slack.calls_to("views.open") == []


async def test_clicks_on_buttons_that_were_not_posted_are_refused(
    local: LocalBot, http: aiohttp.ClientSession
) -> None:
    refused = await post(
        http,
        local,
        "/local/action",
        user=BOB,
        channel="C0LOCKSTEP",
        ts="1.000000",
        block_id="lock_actions",
        action_id="lockstep_submit",
    )
    assert refused == {"ok": False, "error": "that message is gone"}
    closed = await post(http, local, "/local/submit", user=BOB, view_id="V1", values={})
    assert closed == {"ok": False, "error": "that modal is not open"}


async def test_the_event_stream_announces_changes(
    local: LocalBot, http: aiohttp.ClientSession
) -> None:
    async with http.get(local.url + "local/events") as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        first = await asyncio.wait_for(stream.content.readline(), 5)
        assert first.startswith(b"data: ")
        await post(http, local, "/local/command", user=ALICE, text="/flow help")
        line = await asyncio.wait_for(stream.content.readline(), 5)
        while line == b"\n":
            line = await asyncio.wait_for(stream.content.readline(), 5)
        assert int(line.removeprefix(b"data: ")) > int(first.removeprefix(b"data: "))


async def test_a_taken_port_is_one_clear_line(local: LocalBot, tmp_path: Path) -> None:
    port = int(local.url.rsplit(":", 1)[1].strip("/"))
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'other.db'}", PORT=port)
    with pytest.raises(SettingsError, match=rf"^PORT {port}: cannot listen on 127\.0\.0\.1"):
        async with local_bot(settings, load_flows(EXAMPLE_FLOWS)):
            pass


@pytest.mark.slow
async def test_python_m_bot_without_credentials_serves_the_page(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with local_process(tmp_path) as bot:
        assert bot.line.startswith("Lockstep runs in local mode, no Slack needed: open ")
        async with http.get(bot.url + "healthz") as health:
            assert health.status == 200
        async with http.get(bot.url) as page:
            assert page.status == 200 and "#lockstep" in await page.text()
    assert bot.proc.returncode == 0  # SIGTERM is a clean stop
    assert "xoxb-" not in bot.line + bot.log.read_text()  # the made-up token stays secret


def test_one_credential_alone_is_one_clear_line(tmp_path: Path) -> None:
    env = local_env(tmp_path, SLACK_SIGNING_SECRET="s3cret-value")
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("lockstep: SLACK_BOT_TOKEN is missing: set it too, or unset")
    assert done.stderr.count("\n") == 1 and "s3cret-value" not in done.stderr
