"""Every route of the API, with every status its document names, through real HTTP: one walk
that makes each answer happen, each checked against its schema by ``tests.apiclient``, and
then the walk is held to the document: nothing documented was left out, nothing answered was
undocumented."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.api.stream import MOST
from store import SQLStore
from tests.apiclient import Api, base_of
from tests.slackbot import CHANNEL, running_bot

GATE = {"flow": "gate", "inputs": {"service": "web"}, "channel": CHANNEL}


@pytest.fixture
async def api(db_url: str, store: SQLStore) -> AsyncIterator[Api]:
    async with running_bot(db_url, more_flows="tests.api_flows") as bot:
        yield Api(bot, base_of(bot))


async def test_every_route_gives_every_answer_its_document_names(api: Api) -> None:
    ci = await api.token("ci", start=("gate", "fragile"), answer=("*",))
    reader = await api.token("reader", read=("gate", "fragile"))
    stranger = await api.token("stranger", read=("deploy",))
    call = api.call

    async def start(body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        answer = await call("POST", "/api/v1/runs", ci, body, {"Idempotency-Key": key} if key
                            else None)  # fmt: skip
        assert answer.status in (200, 201), answer.body
        return dict(answer.body)

    await call("GET", "/api/v1/openapi.json")
    await call("GET", "/api/v1/flows", ci)
    await call("GET", "/api/v1/flows")  # 401
    # starting
    run = await start(GATE, "k1")
    await start(GATE, "k1")  # 200: the same run
    assert (await call("POST", "/api/v1/runs", ci, {**GATE, "inputs": {"service": "db"}},
                       {"Idempotency-Key": "k1"})).status == 409  # fmt: skip
    assert (await call("POST", "/api/v1/runs", ci, raw=b"[")).status == 400
    assert (await call("POST", "/api/v1/runs", ci, {"flow": "nope"})).status == 403
    assert (await call("POST", "/api/v1/runs", reader, GATE)).status == 403
    everything = await api.token("everything", start=("*",))
    assert (await call("POST", "/api/v1/runs", everything, {"flow": "nope"})).status == 404
    assert (await call("POST", "/api/v1/runs", ci, {"flow": "gate", "inputs": {}})).status == 422
    assert (await call("POST", "/api/v1/runs", None, GATE)).status == 401
    crashy = {"flow": "crashy", "inputs": {}}  # its enter handler raises
    assert (await call("POST", "/api/v1/runs", everything, crashy)).status == 500
    # reading
    rid, lid = run["id"], run["locks"][0]["id"]
    for path in (f"/api/v1/runs/{rid}", f"/api/v1/runs/{rid}/audit", f"/api/v1/locks/{lid}",
                 f"/outputs/status/{rid}", f"/lock/{rid}/{lid}"):  # fmt: skip
        assert (await call("GET", path, reader)).status == 200
        assert (await call("GET", path, stranger)).status == 403
        assert (await call("GET", path)).status == 401
    for path in ("/api/v1/runs/nope", "/api/v1/runs/nope/audit", "/api/v1/locks/nope",
                 "/outputs/status/nope", f"/lock/{rid}/nope"):  # fmt: skip
        assert (await call("GET", path, reader)).status == 404
    assert (await call("GET", "/api/v1/runs", reader)).status == 200
    for odd in ("x", "%D9%A3", "1_0", "%203", "-1", "1e1"):  # not ASCII digits alone
        assert (await call("GET", f"/api/v1/runs?limit={odd}", reader)).status == 400, odd
    assert (await call("GET", "/api/v1/runs?flow=deploy", reader)).status == 403
    assert (await call("GET", "/api/v1/runs")).status == 401
    # the event stream
    events = f"/api/v1/runs/{rid}/events"
    assert (await call("GET", events, reader, headers={"Last-Event-ID": "x"})).status == 400
    assert (await call("GET", events, stranger)).status == 403
    assert (await call("GET", events)).status == 401
    assert (await call("GET", "/api/v1/runs/nope/events", reader)).status == 404
    for which in ("stream", "main", "stdio", "raw"):  # kodosumi's event streams, its final
        assert (await call("GET", f"/outputs/{which}/{rid}", stranger)).status == 403
        assert (await call("GET", f"/outputs/{which}/{rid}")).status == 401
        assert (await call("GET", f"/outputs/{which}/nope", reader)).status == 404
    held = [
        await api.bot.http.get(api.base + events, headers={"Authorization": f"Bearer {reader}"})
        for _ in range(MOST)
    ]
    assert (await call("GET", events, reader)).status == 429  # one stream too many
    for which in ("stream", "main", "stdio"):
        assert (await call("GET", f"/outputs/{which}/{rid}", reader)).status == 429
    for response in held:
        response.close()
    # answering
    answer = f"/api/v1/locks/{lid}/answer"
    assert (await call("POST", answer, ci, {"decision": "later"})).status == 400
    assert (await call("POST", answer, reader, {"inputs": {}})).status == 403
    assert (await call("POST", answer, None, {"inputs": {}})).status == 401
    assert (await call("POST", "/api/v1/locks/nope/answer", ci, {})).status == 404
    assert (await call("POST", answer, ci, {"inputs": {"replicas": "0"}})).status == 422
    kodosumi = f"/lock/{rid}/{lid}"
    assert (await call("POST", kodosumi, reader, {})).status == 403
    assert (await call("POST", kodosumi, None, {})).status == 401
    assert (await call("POST", f"/lock/{rid}/nope", ci, {})).status == 404
    assert (await call("POST", kodosumi, ci, {"replicas": "0"})).status == 200  # its errors
    panel_lock = f"/inputs/lock/{rid}/{lid}"  # as kodosumi's panel posts its form
    assert (await call("GET", panel_lock, reader)).status == 200
    assert (await call("GET", panel_lock, stranger)).status == 403
    assert (await call("GET", panel_lock)).status == 401
    assert (await call("GET", f"/inputs/lock/{rid}/nope", reader)).status == 404
    assert (await call("POST", panel_lock, reader, {})).status == 403
    assert (await call("POST", panel_lock, None, {})).status == 401
    assert (await call("POST", f"/inputs/lock/{rid}/nope", ci, {})).status == 404
    assert (await call("POST", panel_lock, ci, {"replicas": "0"})).status == 200  # its errors
    for_bob = await api.token("for-bob", read=("gate",), answer=("UBOB",))
    api.bot.slack.fail_next("conversations.members", status=500, times=2)  # may Bob? unknown
    unknown = await call("POST", answer, for_bob, {"inputs": {"replicas": "1"}})
    assert unknown.status == 503 and unknown.headers["Retry-After"] == "5"
    assert (await call("POST", kodosumi, for_bob, {"replicas": "1"})).status == 503
    api.bot.slack.fail_next("conversations.members", status=500)
    assert (await call("POST", panel_lock, for_bob, {"replicas": "1"})).status == 503
    api.bot.slack.fail_next("conversations.members", status=500)  # whose lock waits on Bob?
    assert (await call("GET", "/api/v1/runs?waiting_on=UBOB", reader)).status == 503
    too_big = b'{"replicas": "' + b"9" * (2 << 20) + b'"}'
    assert (await call("POST", kodosumi, ci, raw=too_big)).status == 400
    assert (await call("POST", panel_lock, ci, raw=too_big)).status == 400
    assert (await call("POST", answer, ci, {"inputs": {"replicas": "1"}})).status == 200
    assert (await call("POST", answer, ci, {"inputs": {"replicas": "1"}})).status == 409
    fragile = await start({"flow": "fragile", "inputs": {}})
    crash = f"/api/v1/locks/{fragile['locks'][0]['id']}/answer"
    assert (await call("POST", crash, ci, {"inputs": {"x": "boom"}})).status == 500
    crash = f"/lock/{fragile['id']}/{fragile['locks'][0]['id']}"
    assert (await call("POST", crash, ci, {"x": "boom"})).status == 500
    assert (await call("POST", "/inputs" + crash, ci, {"x": "boom"})).status == 500
    assert (await call("GET", events, reader)).status == 200  # ended: the whole stream
    for which in ("stream", "main", "stdio", "raw"):
        assert (await call("GET", f"/outputs/{which}/{rid}", reader)).status == 200
    # cancelling
    other = await start(GATE)
    cancel = f"/api/v1/runs/{other['id']}/cancel"
    assert (await call("POST", cancel, ci, raw=b"{")).status == 400
    assert (await call("POST", cancel, reader, {})).status == 403
    assert (await call("POST", cancel, None, {})).status == 401
    assert (await call("POST", "/api/v1/runs/nope/cancel", ci, {})).status == 404
    assert (await call("POST", cancel, ci, {})).status == 200
    assert (await call("POST", cancel, ci, {})).status == 409
    release = await api.token("release", start=("release",))
    released = await call("POST", "/api/v1/runs", release, {"flow": "release", "channel": CHANNEL})
    admin = await api.token("admin", read=("release",), answer=("UGROUPIE",))
    api.bot.slack.fail_next("usergroups.users.list", status=500)  # is it a release admin?
    cancel = f"/api/v1/runs/{released.body['id']}/cancel"
    assert (await call("POST", cancel, admin, {})).status == 503
    quorum = f"/lock/{released.body['id']}/{released.body['locks'][0]['id']}"
    assert (await call("POST", quorum, admin, {})).status == 200  # counted: one of two
    assert (await call("POST", quorum, admin, {})).status == 409  # the same approver again
    again = await call("POST", "/inputs" + quorum, admin, {}, redirects=False)
    assert again.status == 409  # the same approver again, by the panel's route
    # kodosumi's kill: a run cancelled, an ended one kept
    doomed = await start(GATE)
    kill, killed = f"/outputs/{doomed['id']}", {"fid": [doomed["id"]]}
    assert (await call("DELETE", kill, reader)).status == 403  # may read it, did not start it
    assert (await call("DELETE", kill, stranger)).status == 403
    assert (await call("DELETE", kill)).status == 401
    assert (await call("DELETE", "/outputs/nope", ci)).status == 404
    assert (await call("DELETE", "/outputs/", stranger, killed)).status == 403
    assert (await call("DELETE", "/outputs/", None, killed)).status == 401
    assert (await call("DELETE", "/outputs/", ci, {"fid": ["nope"]})).status == 404
    assert (await call("DELETE", "/outputs/", ci, raw=too_big)).status == 400
    assert (await call("DELETE", kill, ci)).status == 204
    assert (await call("DELETE", "/outputs/", ci, killed)).status == 204  # ended: kept
    api.bot.slack.fail_next("usergroups.users.list", status=500)  # is it a release admin?
    assert (await call("DELETE", f"/outputs/{released.body['id']}", admin)).status == 503
    api.bot.slack.fail_next("usergroups.users.list", status=500)
    listed = {"fid": [released.body["id"]]}
    assert (await call("DELETE", "/outputs/", admin, listed)).status == 503
    # kodosumi's panel routes: the flows, an entry's form, a launch
    assert (await call("GET", "/flow?pp=1", reader)).status == 200
    assert (await call("GET", "/flow?pp=0", reader)).status == 400
    assert (await call("GET", "/flow")).status == 401
    assert (await call("GET", "/flow/tags", reader)).status == 200
    assert (await call("GET", "/flow/tags")).status == 401
    panel = "/-/localhost/8001/app/-/gate"
    assert (await call("GET", panel, reader)).status == 200
    assert (await call("GET", panel, stranger)).status == 403
    assert (await call("GET", panel)).status == 401
    assert (await call("GET", "/-/localhost/8001/app/-/nope", reader)).status == 404
    inputs = "/inputs/-/localhost/8001/app/-/gate"  # where kodosumi's panel serves it
    assert (await call("GET", inputs, reader)).status == 200
    assert (await call("GET", inputs, stranger)).status == 403
    assert (await call("GET", inputs)).status == 401
    assert (await call("GET", "/inputs/-/nope", reader)).status == 404
    assert (await call("POST", panel, ci, {"service": "web"})).status == 200
    assert (await call("POST", panel, ci, {"service": "Web"})).status == 200  # its errors
    assert (await call("POST", panel, reader, {"service": "web"})).status == 403
    assert (await call("POST", panel, None, {"service": "web"})).status == 401
    assert (await call("POST", "/-/nope", ci, {})).status == 404
    assert (await call("POST", panel, ci, raw=too_big)).status == 400
    assert (await call("POST", "/-/crashy", everything, {})).status == 500
    panel_post = "/inputs/-/localhost/8001/app/-/gate"
    launched = await call("POST", panel_post, ci, {"service": "web"}, redirects=False)
    assert launched.status == 302
    assert (await call("POST", panel_post, ci, {"service": "Web"})).status == 200  # its errors
    assert (await call("POST", panel_post, reader, {"service": "web"})).status == 403
    assert (await call("POST", panel_post, None, {"service": "web"})).status == 401
    assert (await call("POST", "/inputs/-/nope", ci, {})).status == 404
    assert (await call("POST", panel_post, ci, raw=too_big)).status == 400
    assert (await call("POST", "/inputs/-/crashy", everything, {})).status == 500
    decided = await start(GATE)
    decide = f"/inputs/lock/{decided['id']}/{decided['locks'][0]['id']}"
    assert (await call("POST", decide, ci, {"replicas": "1"}, redirects=False)).status == 302

    doc = await api.doc()
    documented = {
        (method.upper(), path, int(status))
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
    }
    assert set(api.checked) == documented
