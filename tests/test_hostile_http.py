"""Bytes no client of ours sends, on every HTTP surface: a header that is not UTF-8, JSON
nested past what the parser goes, text with a lone surrogate, a request aiohttp cannot read.
Each is refused with a 4xx and no error in the log; nothing changes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.api import Scopes, new_token
from bot.loading import load_flows
from bot.local.run import local_bot
from bot.settings import EXAMPLE_FLOWS, Settings
from store import SQLStore
from tests.apiclient import Api, base_of
from tests.opsbot import ops_bot
from tests.rawhttp import request, send
from tests.slackbot import CHANNEL, running_bot

DEPLOY = {"flow": "deploy", "inputs": {"service": "api", "version": "1.4"}, "channel": CHANNEL}
DEEP = b"[" * 100_000 + b"]" * 100_000
METRICS = "metrics-token-0123456789"


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.fixture
async def api(db_url: str, store: SQLStore) -> AsyncIterator[Api]:
    async with running_bot(db_url, more_flows="tests.api_flows") as bot:
        yield Api(bot, base_of(bot))


async def test_an_idempotency_key_that_is_not_ascii_is_400(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token = await api.token("ci", start=("deploy",))
    headers = {b"Authorization": b"Bearer " + token.encode(), b"Idempotency-Key": b"gha-\xff",
               b"Content-Type": b"application/json"}  # fmt: skip
    assert (
        await send(api.base, request("POST", b"/api/v1/runs", headers, json.dumps(DEPLOY).encode()))
        == 400
    )
    assert await api.store.executions() == [] and errors(caplog) == []


async def test_kodosumi_s_answer_route_takes_json_nested_too_deep_as_no_values(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    starter = await api.token("ci", start=("deploy",))
    approver = await api.token("bob", read=("deploy",), answer=("UBOB",))
    run = (await api.call("POST", "/api/v1/runs", starter, DEPLOY)).body
    lock = run["locks"][0]["id"]
    headers = {b"Authorization": b"Bearer " + approver.encode()}
    status = await send(
        api.base, request("POST", f"/lock/{run['id']}/{lock}".encode(), headers, DEEP)
    )
    assert status == 200 and errors(caplog) == []  # as kodosumi: no values, so the answer is
    decided = await api.bot.lockstep.engine.lock(lock)  # the form's defaults
    assert decided is not None and decided.status == "resolved" and decided.actor == "api:bob"


def nested_form(depth: int) -> bytes:
    """A multipart form whose one field holds a multipart part, ``depth`` deep."""
    body = b"x"
    for level in range(depth):
        head = b"Content-Type: multipart/mixed; boundary=b%d\r\n" % (level - 1)
        head += b'Content-Disposition: form-data; name="service"\r\n\r\n'
        body = b"--b%d\r\n%s%s\r\n--b%d--\r\n" % (level, head, body, level)
    return body


async def test_a_multipart_form_nested_thousands_deep_is_400(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Python's email parser recurses into each nested part: a form nested past its recursion
    limit (a few hundred kilobytes) is a 400 naming the body, not a 500."""
    token = await api.token("ci", start=("deploy",), read=("deploy",), answer=("UBOB",))
    run = (await api.call("POST", "/api/v1/runs", token, DEPLOY)).body
    deep = nested_form(3000)
    assert len(deep) < 1 << 20  # within what the server reads
    kind = f"multipart/form-data; boundary=b{3000 - 1}"
    for path in ("/-/deploy", "/inputs/-/deploy", f"/lock/{run['id']}/{run['locks'][0]['id']}"):
        sent = await api.call("POST", path, token, None, {"Content-Type": kind}, raw=deep)
        assert sent.status == 400 and sent.body["message"].startswith("body: not a form"), path
    assert errors(caplog) == []
    assert len(await api.store.executions()) == 1  # nothing started, nothing decided
    assert (await api.bot.lockstep.engine.lock(run["locks"][0]["id"])).open


async def test_a_form_of_thousands_of_fields_does_not_hold_the_event_loop(api: Api) -> None:
    """A multipart form of a megabyte of tiny fields takes Python's email parser seconds: read
    on the event loop, it held every other request (Slack's acks among them) for as long, and
    any token, even one that may start nothing, could send one."""
    token = await api.token("reader", read=("deploy",))
    fields = b"".join(
        b'--x\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % n for n in range(18_000)
    )
    kind = {"Content-Type": "multipart/form-data; boundary=x"}
    held = 0.0

    async def ticking() -> None:
        nonlocal held
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            held = max(held, time.monotonic() - before)

    ticker = asyncio.create_task(ticking())
    try:
        sent = await api.call("POST", "/-/deploy", token, None, kind, raw=fields + b"--x--\r\n")
    finally:
        ticker.cancel()
    assert sent.status == 403  # read, then refused: it may start nothing
    assert held < 2.5, held  # read on the loop: 3.5-6 s on an idle machine


async def test_a_metrics_bearer_that_is_not_utf8_is_401(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path}/metrics.db"
    async with ops_bot(url, LOCKSTEP_METRICS="on", LOCKSTEP_METRICS_TOKEN=METRICS) as ops:
        bad = request("GET", b"/metrics", {b"Authorization": b"Bearer \xff"})
        assert await send(ops.base, bad) == 401
        good = request("GET", b"/metrics", {b"Authorization": f"Bearer {METRICS}".encode()})
        assert await send(ops.base, good) == 200
    assert errors(caplog) == []


async def test_local_mode_refuses_json_too_deep_and_lone_surrogates(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'local.db'}", PORT=0, LOCKSTEP_SWEEP_SECONDS=3600
    )
    async with local_bot(config, load_flows(EXAMPLE_FLOWS)) as local:
        json_type = {b"Content-Type": b"application/json"}
        assert await send(local.url, request("POST", b"/local/command", json_type, DEEP)) == 400
        async with aiohttp.ClientSession() as http:
            lone = {"user": "U0ALICE", "text": "/flow start review\ud800"}
            async with http.post(local.url + "local/command", json=lone) as answer:
                assert answer.status == 400
        assert await local.lockstep.store.executions() == []
    assert errors(caplog) == []


@pytest.mark.parametrize(
    "raw",
    [
        request("POST", b"/slack/events?" + b"x" * 9000, {}),
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ],
    ids=["a request line too long", "Content-Length twice"],
)
async def test_a_request_aiohttp_cannot_read_is_400_and_one_warning(
    db_url: str, store: SQLStore, caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    async with running_bot(db_url) as bot:
        caplog.set_level(logging.INFO)
        assert await send(bot.url, raw) == 400
    assert errors(caplog) == []
    [line] = [r.getMessage() for r in caplog.records if "malformed HTTP" in r.getMessage()]
    assert line.startswith("refused a malformed HTTP request: ")


async def test_requests_aiohttp_cannot_read_are_one_warning_a_minute(
    db_url: str, store: SQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone reaching the port can send them: one line at once, then one a minute at most,
    saying how many more came."""
    raw = b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
    raw += b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    async with running_bot(db_url) as bot:
        caplog.set_level(logging.INFO)
        for _ in range(5):
            assert await send(bot.url, raw) == 400
        later = bot.lockstep.refusals.clock() + 61
        bot.lockstep.refusals.clock = lambda: later
        assert await send(bot.url, raw) == 400
    assert errors(caplog) == []
    lines = [r.getMessage() for r in caplog.records if "malformed HTTP" in r.getMessage()]
    assert len(lines) == 2 and lines[1].endswith("(and 4 more since the last such line)")


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
async def test_a_body_that_is_not_what_its_content_encoding_says_is_400(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, encoding: bytes
) -> None:
    """Anyone reaching a port can send ``Content-Encoding: gzip`` over bytes that are not: on
    every route that reads a body it is a 400 and one refusal line a minute, not a 500 with
    aiohttp's tracebacks."""
    config = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'local.db'}", PORT=0, LOCKSTEP_SWEEP_SECONDS=3600
    )
    headers = {b"Content-Encoding": encoding, b"Content-Type": b"application/json"}
    caplog.set_level(logging.INFO)
    async with local_bot(config, load_flows(EXAMPLE_FLOWS)) as local:
        token, row = new_token("ci", Scopes(start=("deploy",)), 1.0)
        assert await local.lockstep.store.create_token(row) is not None
        paths = [b"/slack/events", b"/local/command", b"/api/v1/runs"]
        for path in paths * 2:
            sent = headers | {b"Authorization": b"Bearer " + token.encode()}
            assert await send(local.url, request("POST", path, sent, b"not compressed")) == 400
        for path, unread in [(b"/healthz", 405), (b"/nowhere", 404), (b"/api/v1/runs", 401)]:
            # answered without reading the body: aiohttp reads it after, to keep the connection
            raw = request("POST", path, headers, b"not compressed")
            assert await send(local.url, raw) == unread
        assert await local.lockstep.store.executions() == []
    assert errors(caplog) == []
    lines = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    assert lines == ["refused a request: its body could not be read"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (b"/", {b"Host": b"[::1"}),
        (b"/local/state?user=U0ALICE", {b"Host": b"[::1"}),
        (b"/local/command", {b"Origin": b"http://[::1"}),
        (b"/local/command", {b"Content-Type": b"application/json; charset=no-such-charset"}),
    ],
    ids=["a Host that is no host", "... on a JSON route", "an Origin that is no URL", "a charset"],
)
async def test_the_local_page_refuses_headers_that_are_no_url_or_charset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, path: bytes, headers: dict[bytes, bytes]
) -> None:
    config = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'local.db'}", PORT=0, LOCKSTEP_SWEEP_SECONDS=3600
    )
    body = json.dumps({"user": "U0ALICE", "text": "/flow start review"}).encode()
    sent = {b"Content-Type": b"application/json"} | headers
    async with local_bot(config, load_flows(EXAMPLE_FLOWS)) as local:
        raw = request("POST" if b"command" in path else "GET", path, sent, body)
        if b"Host" in headers:  # in place of the loopback one
            raw = raw.replace(b"Host: 127.0.0.1\r\n", b"", 1)
        status = await send(local.url, raw)
        assert 400 <= status < 500
        assert await local.lockstep.store.executions() == []
    assert errors(caplog) == []
