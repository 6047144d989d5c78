"""The event stream of a run (server-sent events) through real HTTP: each event once, in
order, ending with the run; resumed with ``Last-Event-ID`` without a gap or a repeat. And the
OpenAPI document: valid, made from the models, and naming every route the bot serves, each
of which answers as it says (``tests.apiclient`` checks every answer)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from openapi_spec_validator import validate

from bot.api.models import Run
from bot.api.stream import MOST
from flows.engine import Engine
from store import SQLStore
from tests.apiclient import Api, base_of
from tests.slackbot import CHANNEL, running_bot

GATE = {"flow": "gate", "inputs": {"service": "web"}}


@pytest.fixture
async def api(db_url: str, store: SQLStore) -> AsyncIterator[Api]:
    async with running_bot(db_url, more_flows="tests.api_flows") as bot:
        yield Api(bot, base_of(bot))


async def _start(api: Api, token: str, body: dict[str, Any] = GATE) -> dict[str, Any]:
    answer = await api.call("POST", "/api/v1/runs", token, body)
    assert answer.status == 201, answer.body
    return dict(answer.body)


async def _answer(api: Api, token: str, lock: str, replicas: str = "2") -> None:
    body = {"inputs": {"replicas": replicas}}
    answered = await api.call("POST", f"/api/v1/locks/{lock}/answer", token, body)
    assert answered.status == 200, answered.body


async def test_the_stream_sends_each_event_once_then_the_run(api: Api) -> None:
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await _start(api, token)
    got: list[tuple[str | None, str, str]] = []
    opened = asyncio.Event()

    async def read() -> None:
        async for event in api.stream(f"/api/v1/runs/{run['id']}/events", token):
            got.append(event)
            if event[1] == "status":
                opened.set()

    reader = asyncio.create_task(read())
    await asyncio.wait_for(opened.wait(), 5)
    await _answer(api, token, run["locks"][0]["id"])
    await asyncio.wait_for(reader, 5)
    *events, (end_id, end, data) = got
    ids = [int(i) for i, _, _ in events if i is not None]
    assert ids == sorted(set(ids)) and len(ids) == len(events)
    trail = await api.bot.lockstep.engine.events(run["id"])
    assert ids == [e.id for e in trail]  # every event of the trail, each once
    kinds = [kind for _, kind, _ in events]
    assert kinds[:2] == ["started", "lock_opened"] and kinds[-2:] == ["lease", "finished"]
    lease = json.loads(events[-2][2])
    assert (lease["actor"], lease["lock"]) == ("api:ci", "gate_check")
    assert (end_id, end) == (None, "end")
    ended = Run.model_validate_json(data)
    assert (ended.status, ended.result) == ("finished", {"service": "web", "replicas": 2})


async def test_a_stream_resumes_after_the_last_event_it_saw(api: Api) -> None:
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await _start(api, token)
    path = f"/api/v1/runs/{run['id']}/events"
    first: list[tuple[str | None, str, str]] = []
    async for event in api.stream(path, token):
        first.append(event)
        if event[1] == "lock_opened":
            break  # the client goes away
    refused = await api.call(
        "POST", f"/api/v1/locks/{run['locks'][0]['id']}/answer", token, {"inputs": {}}
    )
    assert refused.status == 422  # an ``invalid`` event
    await _answer(api, token, run["locks"][0]["id"])
    last = first[-1][0]
    assert last is not None
    rest = [event async for event in api.stream(path, token, last_event_id=last)]
    seen = [int(i) for i, _, _ in first + rest if i is not None]
    trail = await api.bot.lockstep.engine.events(run["id"])
    assert seen == [e.id for e in trail]  # nothing missed, nothing twice
    assert [kind for _, kind, _ in rest][:2] == ["status", "invalid"]
    assert rest[-1][1] == "end"
    after = [event async for event in api.stream(f"{path}?after={trail[-1].id}", token)]
    assert [kind for _, kind, _ in after] == ["end"]  # an ended run: only how it ended


async def test_a_stream_is_refused_as_the_run_would_be(api: Api) -> None:
    token = await api.token("ci", start=("gate",))
    run = await _start(api, token)
    path = f"/api/v1/runs/{run['id']}/events"
    bad = await api.call("GET", path, token, headers={"Last-Event-ID": "soon"})
    assert bad.status == 400
    for odd in ("٣", "1_0", "+3", "1.0", "0x1"):  # what int() takes, but no event id is
        for sent in ({"headers": {"Last-Event-ID": odd}}, {"query": odd}):
            where = f"{path}?after={quote(odd)}" if "query" in sent else path
            asked = api.call("GET", where, token, headers=sent.get("headers"))
            odd_answer = await asyncio.wait_for(asked, 5)  # not a stream from event 3 on
            assert odd_answer.status == 400, (odd, sent)
            named = "after" if "query" in sent else "Last-Event-ID"  # what was sent, named
            assert odd_answer.body["message"] == f"{named}: not an event id", (odd, sent)
    for long in ("9" * 5000, "-" + "9" * 5000, "0" * 5000 + "1"):  # int() refuses 4,300 digits
        for sent in ({"headers": {"Last-Event-ID": long}}, {"query": long}):
            where = f"{path}?after={long}" if "query" in sent else path
            asked = api.call("GET", where, token, headers=sent.get("headers"))
            assert (await asyncio.wait_for(asked, 5)).status == 400, (long[:5], sent)
    other = await api.token("other", read=("deploy",))
    assert (await api.call("GET", path, other)).status == 403
    assert (await api.call("GET", "/api/v1/runs/nope/events", token)).status == 404
    assert (await api.call("GET", path)).status == 401


async def test_the_openapi_document_is_valid_and_names_every_route(api: Api) -> None:
    await api.token("ci", read=("*",))
    doc = await api.doc()
    validate(doc)  # OpenAPI 3.1, by openapi-spec-validator
    assert doc["openapi"] == "3.1.0"
    assert api.bot.lockstep is not None
    app = api.bot.lockstep.web_app()  # the same routes the running bot serves
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    operations = ("/slack/events", "/healthz", "/readyz", "/metrics")  # not the API's
    aliases = {(m, p) for m, p in served if p.endswith("/") and (m, p[:-1]) in documented}
    kodosumi = ("/flow", "/outputs/", "/lock/", "/inputs/lock/")
    assert all(p.startswith(kodosumi) for _, p in aliases)  # kodosumi's, with a trailing /
    assert documented == {r for r in served if r[1] not in operations} - aliases
    schemas = doc["components"]["schemas"]
    run = Run.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    assert schemas["Run"]["properties"] == run["properties"]
    assert set(doc["webhooks"]) == {
        "lock.opened", "lock.decided", "lock.expired", "run.finished", "run.failed",
        "run.cancelled",
    }  # fmt: skip


async def test_every_route_answers_as_the_document_says(api: Api) -> None:
    """One walk through every route; each answer (and those of every other test) is checked
    against its schema in the document by ``Api.call``."""
    token = await api.token("ci", start=("gate", "deploy"), read=("*",), answer=("*",))
    run = await _start(api, token, {**GATE, "channel": CHANNEL})
    lock = run["locks"][0]["id"]
    await api.call("GET", "/api/v1/flows", token)
    await api.call("GET", "/api/v1/runs?limit=5", token)
    await api.call("GET", f"/api/v1/runs/{run['id']}", token)
    await api.call("GET", f"/api/v1/locks/{lock}", token)
    await api.call("GET", f"/outputs/status/{run['id']}", token)
    await api.call("GET", f"/lock/{run['id']}/{lock}", token)
    await api.call("POST", f"/lock/{run['id']}/{lock}", token, {"replicas": "0"})
    await api.call("POST", f"/api/v1/locks/{lock}/answer", token, {"inputs": {"replicas": "3"}})
    await api.call("GET", f"/api/v1/runs/{run['id']}/audit", token)
    await api.call("GET", f"/api/v1/runs/{run['id']}/events", token)
    for which in ("stream", "main", "stdio", "raw"):  # kodosumi's event streams, its final
        await api.call("GET", f"/outputs/{which}/{run['id']}", token)
    await api.call("GET", "/flow", token)
    await api.call("GET", "/flow/tags", token)
    await api.call("GET", "/-/localhost/8001/app/-/gate", token)
    await api.call("GET", "/inputs/-/localhost/8001/app/-/gate", token)
    await api.call("POST", "/inputs/-/gate", token, {"service": "web"}, redirects=False)
    await api.call("GET", f"/inputs/lock/{run['id']}/{lock}", token)
    await api.call("POST", f"/inputs/lock/{run['id']}/{lock}", token, {"replicas": "0"})
    await api.call("POST", "/-/gate", token, {"service": "web"})
    other = await _start(api, token, {**GATE, "channel": CHANNEL})
    await api.call("POST", f"/api/v1/runs/{other['id']}/cancel", token, {})
    await api.call("DELETE", f"/outputs/{other['id']}", token)  # kodosumi's kill: ended
    await api.call("DELETE", "/outputs/", token, {"fid": [other["id"]]})
    await api.call("GET", "/api/v1/openapi.json")
    doc = await api.doc()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert {(m, p) for m, p, _ in api.checked} == documented


async def test_a_stream_sees_what_another_process_did(api: Api, db_url: str) -> None:
    """Another bot process on the same database answers the lock: the stream, not told by its
    own engine, finds it at its next poll."""
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await _start(api, token)
    elsewhere = await SQLStore.open(db_url)
    assert api.bot.lockstep is not None
    other = Engine(elsewhere, api.bot.lockstep.engine.registry)
    kinds: list[str] = []
    try:
        async for _, kind, _ in api.stream(f"/api/v1/runs/{run['id']}/events", token):
            kinds.append(kind)
            if kind == "status":
                decided = await other.submit(run["locks"][0]["id"], {"replicas": "2"}, "api:ci")
                assert decided.outcome.value == "accepted"
    finally:
        await other.close()
        await elsewhere.close()
    assert kinds[-3:] == ["lease", "finished", "end"]


async def test_a_stream_ends_when_its_token_is_revoked(api: Api) -> None:
    """A revoked token's next request gets a 401: a stream it opened before sends nothing
    more and closes (it went on streaming the run's events until the run ended)."""
    reader = await api.token("reader", read=("gate",))
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await _start(api, token)
    path = f"/api/v1/runs/{run['id']}/events"
    kinds: list[str] = []

    async def read() -> None:
        async for _, kind, _ in api.stream(path, reader):
            kinds.append(kind)
            if kind == "status":
                assert await api.store.revoke_token("reader", 2.0)
                await _answer(api, token, run["locks"][0]["id"])

    await asyncio.wait_for(read(), 10)  # closed by the server, without the run's end
    assert "status" in kinds and "lease" not in kinds and "end" not in kinds
    assert (await api.call("GET", path, reader)).status == 401


async def test_a_token_holds_a_bounded_number_of_streams(api: Api) -> None:
    """Each open stream reads the store every second: a token opening streams without end
    would hold that many readers. One past ``MOST`` is a 429 (its kodosumi twin too) until one
    closes; another token is not held back."""
    token = await api.token("ci", start=("gate",), read=("gate",), answer=("*",))
    run = await _start(api, token)
    path = f"/api/v1/runs/{run['id']}/events"
    opened = []
    try:
        for _ in range(MOST):
            response = await api.bot.http.get(api.base + path, headers=_bearer(token))
            assert response.status == 200
            opened.append(response)
        refused = await api.call("GET", path, token)
        assert refused.status == 429 and refused.body["error"] == "too_many"
        assert refused.headers["Retry-After"] == "5"
        kodosumi = await api.call("GET", f"/outputs/stream/{run['id']}", token)
        assert kodosumi.status == 429
        other = await api.token("other", read=("gate",))
        elsewhere = await api.bot.http.get(api.base + path, headers=_bearer(other))
        assert elsewhere.status == 200
        elsewhere.close()
        opened.pop().close()  # a client that leaves gives its place back
        for _ in range(50):
            again = await api.bot.http.get(api.base + path, headers=_bearer(token))
            if again.status == 200:
                opened.append(again)
                break
            again.close()
            await asyncio.sleep(0.1)  # (the server sees it gone, no event tells the client)
        else:
            raise AssertionError("a closed stream kept its place")
        await _answer(api, token, run["locks"][0]["id"])
        for response in opened:  # the run ended: each stream ends, and so gives its place back
            await asyncio.wait_for(response.read(), 10)
        again = await api.call("GET", path, token)
        assert again.status == 200
    finally:
        for response in opened:
            response.close()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
