"""Structured logs: ``python -m bot`` with ``LOG_FORMAT=json`` and ``LOG_LEVEL=DEBUG`` runs a
deploy approval; every line it logs is JSON naming the workspace, the run and the lock where
known, and none carries a secret or anything a person typed. The formats themselves are checked
on records made here."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot import logs
from bot.fake.slack import FakeSlack
from flows import FlowApp, Tracer
from flows.engine import Engine, FakeClock, mark_scope
from store import SQLStore
from tests.opsproc import bot_process, environment, free_port
from tests.slackbot import CHANNEL, SECRET, Bot, input_value

TOKEN = "xoxb-" + secrets.token_hex(12)
leaks = FlowApp()


@leaks.flow("leaky", summary="A flow whose error quotes its input")
async def leaky(inputs: dict[str, Any], tracer: Tracer) -> None:
    raise ValueError(f"cannot file {inputs['note']}")


@pytest.fixture
def restored() -> Iterator[None]:
    """The root logger as it was, after a test that configures logging."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {n: logging.getLogger(n).level for n in (logs.OWN, *logs.QUIET)}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def configured(fmt: str, level: str = "INFO") -> io.StringIO:
    out = io.StringIO()
    logs.configure(level, fmt, [TOKEN, SECRET], stream=out)
    return out


def log_in_a_request(log: logging.Logger) -> None:
    """What a request's work logs (a context of its own, as a task has)."""
    logs.TEAM.set("T0001")
    mark_scope(run="r" * 32)
    log.info("posted with %s", TOKEN, extra={"lock": "L1"})
    try:
        raise RuntimeError(f"signing secret {SECRET} leaked into an error")
    except RuntimeError:
        log.exception("failed")


def test_json_lines_carry_the_ids_and_never_a_secret(restored: None) -> None:
    out = configured("json")
    contextvars.copy_context().run(log_in_a_request, logging.getLogger("lockstep.test"))
    logging.getLogger("apscheduler.executors.default").info("Running job sweep")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first == {
        "time": first["time"], "level": "info", "logger": "lockstep.test",
        "message": "posted with [redacted]", "team": "T0001", "run": "r" * 32, "lock": "L1",
    }  # fmt: skip
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["level"] == "error" and "lock" not in second
    assert second["exception"].startswith("Traceback") and SECRET not in second["exception"]
    assert "signing secret [redacted] leaked" in second["exception"]


def test_text_lines_end_with_the_ids(restored: None) -> None:
    out = configured("text", "WARNING")
    log = logging.getLogger("lockstep.test")
    log.info("not at WARNING")
    log.warning("showing failed", extra={"run": "abc", "lock": "L9"})
    [line] = out.getvalue().splitlines()
    assert line.endswith(" WARNING lockstep.test: showing failed [run=abc lock=L9]")


def test_debug_is_for_lockstep_s_own_lines(restored: None) -> None:
    out = configured("json", "DEBUG")
    logging.getLogger("lockstep.engine").debug("ours")
    logging.getLogger("slack_sdk.web.async_base_client").debug("a whole response body")
    logging.getLogger("slack_bolt.App").debug("a whole request body")
    assert [json.loads(x)["message"] for x in out.getvalue().splitlines()] == ["ours"]


async def test_a_web_api_call_formats_no_debug_line_it_would_drop(
    restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """slack_sdk builds its DEBUG lines (each call's arguments and answer) whenever its
    client's logger has no level of its own; configured, it builds none."""
    configured("text", "DEBUG")
    formatted: list[str] = []
    client_log = logging.getLogger("slack_sdk.web.async_base_client")
    monkeypatch.setattr(client_log, "debug", lambda msg, *a, **k: formatted.append(msg))
    async with FakeSlack() as slack:
        client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
        await client.chat_postMessage(channel=CHANNEL, text="hello")
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert formatted == []


def test_bolt_s_unused_token_warning_is_not_logged_but_its_other_warnings_are(
    restored: None,
) -> None:
    """Bolt reads SLACK_BOT_TOKEN itself, then warns that the client the bot gives it wins."""
    out = configured("text")
    bolt = logging.getLogger("slack_bolt.AsyncApp")
    bolt.warning("As you gave `client` as well, `token` will be unused.")
    bolt.warning("something else worth saying")
    [line] = out.getvalue().splitlines()
    assert line.endswith("slack_bolt.AsyncApp: something else worth saying")


def read(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


async def test_a_run_logs_ids_as_json_and_never_a_secret_or_a_value(tmp_path: Path) -> None:
    typed = "svc-" + secrets.token_hex(6)  # what people type, to look for in the log
    comment = "comment-" + secrets.token_hex(6)
    port = free_port()
    async with FakeSlack(members={CHANNEL: ["UALICE", "UBOB"]}) as slack:
        env = environment(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url,
            DATABASE_URL=f"sqlite:///{tmp_path / 'logs.db'}",
            PORT=str(port),
            LOCKSTEP_HOST="127.0.0.1",
            LOG_FORMAT="json",
            LOG_LEVEL="debug",
            LOCKSTEP_SWEEP_SECONDS="0.2",  # APScheduler would say so five times a second
        )
        async with bot_process(env) as proc, aiohttp.ClientSession() as http:
            bot = Bot(None, slack, f"http://127.0.0.1:{port}/slack/events", http)
            await bot.command("start deploy")
            [opened] = await slack.wait_for("views.open")
            values = input_value("service", typed) | input_value("version", "1.2.3")
            assert (await bot.submit_view(opened.response["view"], values, "UALICE"))[0] == 200
            posted = await slack.wait_for("chat.postMessage", count=2)
            lock = posted[-1].response["message"]
            await bot.click(lock, "lockstep_submit", "UBOB", input_value("comment", comment))
            await slack.wait_for("chat.postMessage", count=4)  # "Deploying…", the result
            await proc.wait_for_line("ended: finished")
            proc.terminate()
            assert await proc.wait() == 0

    text = proc.log()
    assert typed in str(slack.calls) and comment in str(slack.calls)  # they were there to log
    for needle in (TOKEN, SECRET, typed, comment):
        assert needle not in text
    lines = read(proc.lines)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert not [line for line in lines if line["logger"].startswith("apscheduler")]
    said = {line["message"]: line for line in lines}
    run_id = said["run of deploy started"]["run"]
    decided = next(v for k, v in said.items() if k.startswith("lock 'deploy_approval' resolved"))
    assert decided["message"].startswith("lock 'deploy_approval' resolved by UBOB after ")
    assert decided["team"] == "T0001" and decided["run"] == run_id
    clicked = [e for b in lock["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert decided["lock"] == clicked[0]["value"]  # the lock's id
    assert said["run of deploy ended: finished"]["run"] == run_id


async def test_a_failed_run_logs_its_error_s_type_not_its_message(
    store: SQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    typed = "note-" + secrets.token_hex(6)
    caplog.set_level(logging.INFO, logger="lockstep")
    engine = Engine(store, [leaks], clock=FakeClock())
    try:
        eid = await engine.start("leaky", {"note": typed})
        await engine.settled(eid)
    finally:
        await engine.close()
    assert "the flow raised ValueError" in caplog.messages
    assert "run of leaky ended: error" in caplog.messages
    assert typed not in caplog.text
    ended = await store.execution(eid)
    assert ended is not None and ended.error == f"ValueError: cannot file {typed}"  # the trail


async def test_database_errors_never_quote_values(store: SQLStore) -> None:
    typed = "typed-" + secrets.token_hex(6)
    query = text("SELECT * FROM no_such_table WHERE x = :v")
    with pytest.raises(DBAPIError) as raised:
        await store.run(lambda conn: conn.execute(query, {"v": typed}))
    assert "no_such_table" in str(raised.value) and typed not in str(raised.value)
