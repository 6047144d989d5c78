"""The HTTP API through real HTTP against the running bot (its Web API on the fake Slack):
every route, each refusal, tokens and their scopes, idempotent starts, answers that Slack
shows as decided by the token. Every answer is checked against the OpenAPI document
(``tests.apiclient``)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from bot.api.auth import Scopes, new_token
from bot.api.http import uncursor
from bot.api.kodosumi_wire import serialize
from flows import Request, response
from flows.engine import SINGLE, Workspace
from store import SQLStore
from tests.apiclient import Api, base_of
from tests.slackbot import CHANNEL, assert_valid_surfaces, running_bot

DEPLOY = {"flow": "deploy", "inputs": {"service": "api", "version": "1.4"}, "channel": CHANNEL}


@pytest.fixture
async def api(db_url: str, store: SQLStore) -> AsyncIterator[Api]:
    async with running_bot(db_url, more_flows="tests.api_flows") as bot:
        yield Api(bot, base_of(bot))


async def started(api: Api, token: str, body: dict[str, Any] = DEPLOY) -> dict[str, Any]:
    answer = await api.call("POST", "/api/v1/runs", token, body)
    assert answer.status == 201, answer.body
    return dict(answer.body)


async def test_without_any_token_no_api_route_is_served(api: Api) -> None:
    for path in ("/api/v1/openapi.json", "/api/v1/flows", "/api/v1/runs", "/api/v1/runs/x",
                 "/lock/a/b", "/outputs/status/a"):  # fmt: skip
        async with api.bot.http.get(api.base + path) as response:
            assert response.status == 404, path
    async with api.bot.http.get(api.base + "/healthz") as response:
        assert response.status == 200


async def test_tokens_missing_wrong_or_revoked_get_401(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await api.token("ci", read=("*",))
    assert (await api.call("GET", "/api/v1/flows", token)).status == 200
    missing = await api.call("GET", "/api/v1/flows")
    assert missing.status == 401 and missing.body["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    assert (await api.call("GET", "/api/v1/flows", wrong)).status == 401
    assert (await api.call("GET", "/api/v1/flows", "not-a-token")).status == 401
    await api.token("other", read=("*",))
    assert await api.store.revoke_token("ci", 2.0)
    assert (await api.call("GET", "/api/v1/flows", token)).status == 401
    assert await api.store.revoke_token("other", 2.0)  # no token left: no API at all
    assert (await api.call("GET", "/api/v1/flows", token, check=False)).status == 404
    secret = token.split("_", 2)[2]  # lst_<id>_<secret>: the secret may hold "_" too
    assert caplog.records and secret not in caplog.text  # never logged


async def test_refusals_that_may_be_tampering_are_one_line_a_minute(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Forged or revoked tokens, a token reaching past its scopes, a malformed request: each
    answered at once, and each kind told in one log line (then one a minute), never with the
    token; an ordinary answer (a run that is not there, refused inputs) is no such line."""
    token = await api.token("ci", read=("deploy",))
    forged = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    for _ in range(50):
        assert (await api.call("GET", "/api/v1/flows", forged)).status == 401
        assert (await api.call("GET", "/api/v1/runs?flow=gate", token)).status == 403
        assert (await api.call("GET", "/api/v1/runs?limit=x", token)).status == 400
    assert (await api.call("GET", "/api/v1/runs/nope", token)).status == 404
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sorted(lines) == [
        "refused an API request: bad_request (400)",
        "refused an API request: forbidden (403)",
        "refused an API request: unauthorized (no valid token)",
    ]
    assert forged.split("_", 2)[2] not in caplog.text and token not in caplog.text


async def test_flows_come_with_their_entry_forms_as_kodosumi_elements(api: Api) -> None:
    token = await api.token("ci", start=("deploy",))
    listed = (await api.call("GET", "/api/v1/flows", token)).body["flows"]
    assert [f["name"] for f in listed] == ["deploy"]
    [flow] = listed
    assert flow["summary"] == "Deploy approval"
    service = flow["elements"][0]
    assert service == {"type": "text", "name": "service", "label": "Service", "value": None,
                       "required": True, "placeholder": None, "size": None,
                       "pattern": "[a-z0-9][a-z0-9-]*"}  # fmt: skip
    everything = await api.token("reader", read=("*",))
    names = {f["name"] for f in (await api.call("GET", "/api/v1/flows", everything)).body["flows"]}
    assert {"deploy", "review", "gate", "release"} <= names


async def test_a_start_is_validated_as_the_entry_modal_validates_it(api: Api) -> None:
    token = await api.token("ci", start=("deploy",))
    body = {"flow": "deploy", "inputs": {"service": "Bad Name!"}, "channel": CHANNEL}
    refused = await api.call("POST", "/api/v1/runs", token, body)
    assert refused.status == 422
    errors = refused.body["errors"]
    assert set(errors) >= {"service", "version"} and errors["service"] and errors["version"]
    assert await api.store.executions() == []  # nothing started, nothing posted
    assert api.bot.slack.calls_to("chat.postMessage") == []
    malformed = await api.call("POST", "/api/v1/runs", token, raw=b"{not json")
    assert malformed.status == 400 and malformed.body["error"] == "bad_request"
    wrong_shape = await api.call("POST", "/api/v1/runs", token, {"inputs": {}})
    assert wrong_shape.status == 400 and "flow" in wrong_shape.body["message"]


async def test_a_run_starts_in_its_channel_with_a_link_to_it(api: Api) -> None:
    token = await api.token("ci", start=("deploy",))
    run = await started(api, token)
    assert run["status"] == "awaiting" and run["initiator"] == "api:ci"
    assert run["slack_url"] and run["slack_url"].startswith("https://")
    [lock] = run["locks"]
    assert lock["name"] == "deploy_approval" and lock["exclude_initiator"] is True
    parent = api.bot.slack.messages(CHANNEL)[0]
    assert parent["text"].startswith("*Deploy approval* · started by ci · ")
    again = await api.call("GET", f"/api/v1/runs/{run['id']}", token)
    assert again.status == 200 and again.body["slack_url"] == run["slack_url"]
    assert (await api.call("GET", "/api/v1/runs/nope", token)).status == 404


async def test_a_token_for_one_flow_cannot_start_another(api: Api) -> None:
    token = await api.token("ci", start=("deploy",))
    body = {"flow": "review", "inputs": {"document": "x"}, "channel": CHANNEL}
    refused = await api.call("POST", "/api/v1/runs", token, body)
    assert refused.status == 403 and refused.body["error"] == "forbidden"
    anything = await api.token("admin", start=("*",))
    unknown = await api.call("POST", "/api/v1/runs", anything, {"flow": "nope", "inputs": {}})
    assert unknown.status == 404
    run = await started(api, anything)
    reader = await api.token("other", read=("review",))
    assert (await api.call("GET", f"/api/v1/runs/{run['id']}", reader)).status == 403


async def test_starts_are_idempotent_with_an_idempotency_key(api: Api) -> None:
    token = await api.token("ci", start=("deploy",))
    key = {"Idempotency-Key": "build-1234"}
    first = await api.call("POST", "/api/v1/runs", token, DEPLOY, key)
    second = await api.call("POST", "/api/v1/runs", token, DEPLOY, key)
    assert (first.status, second.status) == (201, 200)
    assert first.body["id"] == second.body["id"]
    assert len(await api.store.executions()) == 1
    parents = [c for c in api.bot.slack.calls_to("chat.postMessage") if "thread_ts" not in c.args
               or not c.args["thread_ts"]]  # fmt: skip
    assert len(parents) == 1
    changed = {**DEPLOY, "inputs": {"service": "api", "version": "2.0"}}
    conflict = await api.call("POST", "/api/v1/runs", token, changed, key)
    assert conflict.status == 409 and conflict.body["error"] == "conflict"
    other = await api.call("POST", "/api/v1/runs", token, DEPLOY, {"Idempotency-Key": "build-2"})
    assert other.status == 201 and other.body["id"] != first.body["id"]


async def test_starts_racing_with_one_idempotency_key_make_one_run_and_say_so(api: Api) -> None:
    """Eight starts with one key at once (a CI retry storm): one run, one 201, and every
    other start answers 200 with that run, as a repeat after it would."""
    token = await api.token("ci", start=("deploy",))
    key = {"Idempotency-Key": "build-race"}
    racing = await asyncio.gather(
        *(api.call("POST", "/api/v1/runs", token, DEPLOY, key) for _ in range(8))
    )
    assert sorted(r.status for r in racing) == [200] * 7 + [201]
    assert len({r.body["id"] for r in racing}) == 1
    assert len(await api.store.executions()) == 1


async def test_a_tokens_name_used_again_in_another_workspace_starts_nothing_of_the_first(
    api: Api,
) -> None:
    """A revoked token's name given to a token of another workspace: the same
    Idempotency-Key names the first workspace's run, which the new token neither gets back nor
    reaches: 409, and nothing starts."""
    first = await api.token("ci", start=("deploy",), read=("deploy",))
    key = {"Idempotency-Key": "build-77"}
    assert (await api.call("POST", "/api/v1/runs", first, DEPLOY, key)).status == 201
    assert await api.store.revoke_token("ci", 2.0)
    scopes = Scopes(start=("deploy",), read=("deploy",))
    other, row = new_token("ci", scopes, 3.0, Workspace(team_id="TOTHER"))
    assert await api.store.create_token(row) is not None
    again = await api.call("POST", "/api/v1/runs", other, DEPLOY, key)
    assert again.status == 409 and again.body["error"] == "conflict"
    assert len(await api.store.executions()) == 1


@pytest.mark.parametrize(("flow", "got"), [("no-inputs", "None"), ("as-model", "Job(topic='x')")])
async def test_a_kodosumi_launch_without_a_dict_of_inputs_starts_once(
    db_url: str, store: SQLStore, flow: str, got: str
) -> None:
    """An enter handler may launch with no inputs or with a pydantic model: the start answers
    201 with its run (without a key), and the same key again answers that run (200)."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.launches") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        body = {"flow": flow, "inputs": {"topic": "x"}, "channel": CHANNEL}
        plain = await api.call("POST", "/api/v1/runs", token, body)
        assert plain.status == 201, plain.body
        key = {"Idempotency-Key": f"{flow}-1"}
        first = await api.call("POST", "/api/v1/runs", token, body, key)
        again = await api.call("POST", "/api/v1/runs", token, body, key)
        assert (first.status, again.status) == (201, 200), again.body
        assert first.body["id"] == again.body["id"] != plain.body["id"]
        await bot.lockstep.engine.settled(first.body["id"])
        runs = await bot.lockstep.store.executions()
        assert len(runs) == 2 and {r.result["got"] for r in runs} == {got}
        status = (await api.call("GET", f"/outputs/status/{first.body['id']}", token)).body
        described = (status["tags"], status["author"], status["version"])  # as @app.enter said
        assert described == (
            (["demo"], "ops@example.com", "1.2") if flow == "no-inputs" else ([], None, None)
        )


async def test_an_app_s_error_messages_come_over_the_api_as_written(
    db_url: str, store: SQLStore
) -> None:
    """An app's messages are kodosumi's HTML (``<br/>``): Slack shows them as plain text, the
    API hands them over as written, for clients that show HTML."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.simple") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",))
        body = {"flow": "simple", "inputs": {"text": "no"}, "channel": CHANNEL}
        refused = await api.call("POST", "/api/v1/runs", token, body)
        assert refused.status == 422
        assert "Not yet.<br/>You sent" in json.dumps(refused.body)


async def test_an_answer_by_api_shows_in_slack_as_decided_by_the_token(api: Api) -> None:
    starter = await api.token("ci", start=("deploy",))
    approver = await api.token("release-bot", read=("deploy",), answer=("UBOB",))
    run = await started(api, starter)
    lock = run["locks"][0]["id"]
    form = await api.call("GET", f"/api/v1/locks/{lock}", approver)
    assert form.status == 200 and form.body["data"] == {"service": "api", "version": "1.4",
                                                         "environment": None}  # fmt: skip
    assert [e["type"] for e in form.body["elements"]] == ["markdown", "text", "submit", "cancel"]
    answered = await api.call(
        "POST", f"/api/v1/locks/{lock}/answer", approver, {"inputs": {"comment": "ship it"}}
    )
    assert answered.status == 200, answered.body
    assert answered.body["outcome"] == "accepted"
    assert answered.body["lock"]["decided_by"] == "api:release-bot"
    await api.bot.lockstep.engine.idle()
    thread = api.bot.slack.thread(CHANNEL, api.bot.slack.messages(CHANNEL)[0]["ts"])
    decided = next(m for m in thread if m["text"].startswith("Deploy approval: "))
    assert decided["text"].startswith("Deploy approval: ✅ Approved by release-bot · ")
    assert "<@" not in decided["text"]
    ended = (await api.call("GET", f"/api/v1/runs/{run['id']}", starter)).body
    assert (ended["status"], ended["outcome"], ended["result"]) == (
        "finished", "approved", {"deployed": True},
    )  # fmt: skip
    assert api.bot.slack.messages(CHANNEL)[0]["text"].endswith("✅ approved by release-bot")
    audit = (await api.call("GET", f"/api/v1/runs/{run['id']}/audit", starter)).body
    actors = {(e["kind"], e["actor"]) for e in audit["events"]}
    assert ("started", "api:ci") in actors and ("lease", "api:release-bot") in actors
    again = await api.call("POST", f"/api/v1/locks/{lock}/answer", approver, {"inputs": {}})
    assert again.status == 409 and "api:release-bot" in again.body["message"]
    assert assert_valid_surfaces(api.bot.slack) > 2


async def test_an_answer_sent_again_with_its_idempotency_key_answers_as_the_first(
    api: Api,
) -> None:
    """A client that lost the reply to its answer sends it again with the same key: it gets
    the answer its first try made (200), not a 409, and the lock is decided once. The same key
    with another answer, or from another token, is refused."""
    starter = await api.token("ci", start=("deploy",))
    approver = await api.token("release-bot", read=("deploy",), answer=("UBOB",))
    other = await api.token("other-bot", read=("deploy",), answer=("UBOB",))
    lock = (await started(api, starter))["locks"][0]["id"]
    path, body = f"/api/v1/locks/{lock}/answer", {"inputs": {"comment": "ship it"}}
    key = {"Idempotency-Key": "answer-1"}
    first = await api.call("POST", path, approver, body, key)
    again = await api.call("POST", path, approver, body, key)
    assert (first.status, again.status) == (200, 200), again.body
    assert first.body == again.body and again.body["outcome"] == "accepted"
    run_id = (await api.bot.lockstep.engine.lock(lock)).execution_id
    events = await api.bot.lockstep.engine.events(run_id)
    assert [e.kind for e in events if e.call_id == lock].count("lease") == 1
    changed = await api.call("POST", path, approver, {"inputs": {"comment": "no"}}, key)
    assert changed.status == 409 and "another answer" in changed.body["message"]
    assert (await api.call("POST", path, other, body, key)).status == 409
    assert (await api.call("POST", path, approver, body)).status == 409  # no key: as before
    for bad in ("", "x" * 256, "caf\u00e9"):
        refused = await api.call("POST", path, approver, body, {"Idempotency-Key": bad})
        assert refused.status == (409 if bad == "" else 400), (bad, refused.body)
    # a rejection sent again is the same rejection
    rejected_lock = (await started(api, starter))["locks"][0]["id"]
    no = {"decision": "reject", "comment": "not today"}
    rpath = f"/api/v1/locks/{rejected_lock}/answer"
    for _ in range(2):
        rejected = await api.call("POST", rpath, approver, no, {"Idempotency-Key": "r-1"})
        assert rejected.status == 200 and rejected.body["outcome"] == "rejected"


async def test_a_quorum_answer_sent_again_with_its_key_is_counted_once(api: Api) -> None:
    starter = await api.token("ci", start=("release",))
    run = await started(api, starter, {"flow": "release", "inputs": {}, "channel": CHANNEL})
    path = f"/api/v1/locks/{run['locks'][0]['id']}/answer"
    one = await api.token("one", read=("release",), answer=("UBOB",))
    two = await api.token("two", read=("release",), answer=("UCAROL",))
    keys = {"Idempotency-Key": "vote-1"}
    for _ in range(2):
        counted = await api.call("POST", path, one, {"inputs": {}}, keys)
        assert counted.status == 200 and counted.body["outcome"] == "counted", counted.body
        assert counted.body["approved_by"] == ["api:one"]
    last = await api.call("POST", path, two, {"inputs": {}}, keys)
    assert last.body["outcome"] == "accepted"
    for token, outcome in ((two, "accepted"), (one, "counted")):
        again = await api.call("POST", path, token, {"inputs": {}}, keys)
        assert again.status == 200 and again.body["outcome"] == outcome, again.body
        assert again.body["approved_by"] == ["api:one", "api:two"]


async def test_a_read_only_token_cannot_answer(api: Api) -> None:
    starter = await api.token("ci", start=("deploy",))
    reader = await api.token("dashboard", read=("*",))
    run = await started(api, starter)
    lock = run["locks"][0]["id"]
    assert (await api.call("GET", f"/api/v1/locks/{lock}", reader)).status == 200
    refused = await api.call("POST", f"/api/v1/locks/{lock}/answer", reader, {"inputs": {}})
    assert refused.status == 403
    kodosumi = await api.call("POST", f"/lock/{run['id']}/{lock}", reader, {})
    assert kodosumi.status == 403
    assert (await api.bot.lockstep.engine.lock(lock)).open


async def test_only_a_form_with_a_cancel_can_be_rejected(api: Api) -> None:
    """docs/api.md: a rejection of a form without Cancel is a 422, and the lock stays open."""
    token = await api.token("ci", start=("fragile",), answer=("*",))
    run = await started(api, token, {"flow": "fragile", "inputs": {}, "channel": CHANNEL})
    lock = run["locks"][0]["id"]
    no = {"decision": "reject", "comment": "no"}
    refused = await api.call("POST", f"/api/v1/locks/{lock}/answer", token, no)
    assert refused.status == 422 and "no Cancel" in refused.body["message"]
    assert (await api.bot.lockstep.engine.lock(lock)).open


async def test_four_eyes_and_approvers_apply_to_the_token(api: Api) -> None:
    starter = await api.token("ci", start=("deploy", "vetted"), answer=("UBOB",))
    run = await started(api, starter)
    lock = run["locks"][0]["id"]
    own = await api.call("POST", f"/api/v1/locks/{lock}/answer", starter, {"inputs": {}})
    assert own.status == 403 and "four eyes" in own.body["message"]
    events = await api.bot.lockstep.engine.events(run["id"])
    assert ("refused", "api:ci") in [(e.kind, e.actor) for e in events]
    # a token answering for the person who started a run is held to four-eyes too
    engine = api.bot.lockstep.engine
    alices = await engine.start(
        "deploy", DEPLOY["inputs"], Request("deploy", "UALICE", {"channel": CHANNEL})
    )
    await engine.settled(alices)
    [alice_lock] = [c for c in await api.store.calls(alices, open_only=True)]
    for_alice = await api.token("alices-bot", read=("deploy",), answer=("UALICE",))
    path = f"/api/v1/locks/{alice_lock.id}/answer"
    assert (await api.call("POST", path, for_alice, {"inputs": {}})).status == 403
    # so is one answering for a channel, or a group, she is in: it answers for her too
    for_channel = await api.token("channel-bot", read=("deploy",), answer=("channel",))
    assert (await api.call("POST", path, for_channel, {"inputs": {}})).status == 403
    assert (await api.call("POST", path, starter, {"inputs": {}})).status == 200
    # approvers: UAPPROVER or the group SREVIEW (UGROUPIE)
    vetted = await started(api, starter, {"flow": "vetted", "inputs": {}, "channel": CHANNEL})
    vetted_lock = vetted["locks"][0]["id"]
    path = f"/api/v1/locks/{vetted_lock}/answer"
    refused = await api.call("POST", path, starter, {"inputs": {"x": "1"}})
    assert refused.status == 403 and "UAPPROVER" in refused.body["message"]
    groupie = await api.token("groupie-bot", read=("vetted",), answer=("UGROUPIE",))
    rejected = await api.call(
        "POST", path, groupie, {"decision": "reject", "comment": "not <!channel> now"}
    )
    assert rejected.status == 200 and rejected.body["outcome"] == "rejected"
    await engine.idle()
    ended = (await api.call("GET", f"/api/v1/runs/{vetted['id']}", starter)).body
    assert ended["outcome"] == "rejected" and ended["status"] == "cancelled"


async def test_a_token_answering_for_a_group_answers_where_a_member_may(api: Api) -> None:
    """A lock naming no approvers is its channel's: a token answering for a user group may
    decide it when one of the group's members is in the channel, and only then."""
    api.bot.slack._usergroups["SOUT"] = ["UOUTSIDER"]  # in no channel
    starter = await api.token("ci", start=("deploy",))
    outside = await api.token("outside-bot", read=("deploy",), answer=("SOUT",))
    reviewers = await api.token("review-bot", read=("deploy",), answer=("SREVIEW",))
    lock = (await started(api, starter))["locks"][0]["id"]
    path = f"/api/v1/locks/{lock}/answer"
    refused = await api.call("POST", path, outside, {"inputs": {}})
    assert refused.status == 403
    assert (await api.call("POST", path, reviewers, {"inputs": {}})).status == 200
    assert (await api.bot.lockstep.engine.lock(lock)).actor == "api:review-bot"


async def test_a_quorum_counts_each_token_once(api: Api) -> None:
    starter = await api.token("ci", start=("release",))
    run = await started(api, starter, {"flow": "release", "inputs": {}, "channel": CHANNEL})
    path = f"/api/v1/locks/{run['locks'][0]['id']}/answer"
    one = await api.token("one", read=("release",), answer=("UBOB",))
    two = await api.token("two", read=("release",), answer=("UCAROL",))
    first = await api.call("POST", path, one, {"inputs": {}})
    assert first.body["outcome"] == "counted" and first.body["approved_by"] == ["api:one"]
    repeat = await api.call("POST", path, one, {"inputs": {}})
    assert repeat.status == 409
    kodosumi = f"/lock/{run['id']}/{run['locks'][0]['id']}"  # its route says so too
    again = await api.call("POST", kodosumi, one, {})
    assert again.status == 409 and "already approved" in again.body["message"]
    last = await api.call("POST", path, two, {"inputs": {}})
    assert last.body["outcome"] == "accepted"
    assert last.body["approved_by"] == ["api:one", "api:two"]


async def test_a_person_and_a_token_answering_for_them_are_one_approver(api: Api) -> None:
    """A quorum of two different people: Bob approving in Slack and a token answering for Bob
    alone are one of them, whichever comes first; Carol makes two."""
    starter = await api.token("ci", start=("release",))
    bobs = await api.token("bobs", read=("release",), answer=("UBOB",))
    carols = await api.token("carols", read=("release",), answer=("UCAROL",))
    bot = api.bot
    for first in ("slack", "token"):
        run = await started(api, starter, {"flow": "release", "inputs": {}, "channel": CHANNEL})
        lock_id = run["locks"][0]["id"]
        path = f"/api/v1/locks/{lock_id}/answer"
        await bot.lockstep.engine.idle()  # its lock's message is posted
        message = bot.slack.thread(CHANNEL, run_ts(bot, run))[-1]
        notes = len(bot.slack.calls_to("chat.postEphemeral"))
        if first == "token":
            assert (await api.call("POST", path, bobs, {"inputs": {}})).status == 200
            inbox = await bot.lockstep.engine.inbox("UBOB", SINGLE)
            assert lock_id not in [c.id for _, c in inbox]  # his approval is in: not on his Home
        await bot.click(message, "lockstep_submit", "UBOB")
        await bot.slack.wait_for("chat.postEphemeral", count=notes + 1)
        if first == "slack":
            again = await api.call("POST", path, bobs, {"inputs": {}})
            assert again.status == 409 and "already approved" in again.body["message"]
        else:
            assert bot.slack.ephemerals("UBOB")[-1]["text"] == (
                "You have already approved this; it needs 1 more from someone else."
            )
        assert (await bot.lockstep.engine.lock(lock_id)).open
        last = await api.call("POST", path, carols, {"inputs": {}})
        assert last.body["outcome"] == "accepted", last.body


def run_ts(bot: Any, run: dict[str, Any]) -> str:
    """The ts of ``run``'s message in the channel."""
    where = next(m for m in bot.slack.messages(CHANNEL) if run["id"][:8] in json.dumps(m))
    return str(where["ts"])


async def test_refused_inputs_come_back_under_their_fields(api: Api) -> None:
    token = await api.token("ci", start=("gate", "fragile"), answer=("*",))
    run = await started(api, token, {"flow": "gate", "inputs": {"service": "web"}})
    assert run["channel"] is None and run["slack_url"] is None
    path = f"/api/v1/locks/{run['locks'][0]['id']}/answer"
    bad = await api.call("POST", path, token, {"inputs": {"replicas": "99"}})
    assert bad.status == 422 and list(bad.body["errors"]["replicas"])
    lease = await api.call("POST", path, token, {"inputs": {"replicas": "7"}})
    assert lease.status == 422 and lease.body["errors"]["why"] == ["Say why more than 5"]
    good = await api.call("POST", path, token, {"inputs": {"replicas": "7", "why": "load",
                                                            "pin": "1234"}})  # fmt: skip
    assert good.status == 200
    lock = (await api.call("GET", f"/api/v1/locks/{run['locks'][0]['id']}", token)).body
    assert lock["result"] == {"replicas": 7, "pin": "***"}  # passwords never come out
    fragile = await started(api, token, {"flow": "fragile", "inputs": {}})
    path = f"/api/v1/locks/{fragile['locks'][0]['id']}/answer"
    crashed = await api.call("POST", path, token, {"inputs": {"x": "boom"}})
    assert crashed.status == 500 and "hunter2" not in crashed.body["message"]
    assert (await api.call("POST", "/api/v1/locks/nope/answer", token, {})).status == 404
    bad_body = await api.call("POST", path, token, {"decision": "maybe"})
    assert bad_body.status == 400


async def test_runs_are_cancelled_by_who_may(api: Api) -> None:
    starter = await api.token("ci", start=("deploy",))
    other = await api.token("other", read=("deploy",), answer=("UBOB",))
    run = await started(api, starter)
    path = f"/api/v1/runs/{run['id']}/cancel"
    refused = await api.call("POST", path, other, {})
    assert refused.status == 403
    cancelled = await api.call("POST", path, starter, {"reason": "superseded"})
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    assert cancelled.body["outcome"] == "cancelled"
    assert (await api.call("POST", path, starter, {})).status == 409
    assert (await api.call("POST", "/api/v1/runs/nope/cancel", starter, {})).status == 404
    events = await api.bot.lockstep.engine.events(run["id"])
    assert ("cancelled", "api:ci") in [(e.kind, e.actor) for e in events]
    second = await started(api, starter)  # a reason of any length is kept, cut to 3,000
    path = f"/api/v1/runs/{second['id']}/cancel"
    assert (await api.call("POST", path, starter, {"reason": "x" * 200_000})).status == 200
    [kept] = [
        e for e in await api.bot.lockstep.engine.events(second["id"]) if e.kind == "cancelled"
    ]
    assert kept.detail == {"reason": "x" * 3000}


async def test_runs_are_listed_by_filters_a_page_at_a_time(api: Api) -> None:
    token = await api.token("ci", start=("deploy", "vetted", "gate"), read=("*",))
    ids = [(await started(api, token))["id"] for _ in range(3)]
    vetted = await started(api, token, {"flow": "vetted", "inputs": {}, "channel": "C0OTHER"})
    gate = await started(api, token, {"flow": "gate", "inputs": {"service": "web"}})
    await api.bot.lockstep.engine.cancel(ids[0], None)

    async def listed(query: str) -> list[str]:
        found, after = [], ""
        while True:
            page = await api.call("GET", f"/api/v1/runs?{query}{after}", token)
            assert page.status == 200, page.body
            found += [r["id"] for r in page.body["runs"]]
            if not page.body["next"]:
                return found
            after = f"&after={page.body['next']}"

    assert await listed("limit=2") == [gate["id"], vetted["id"], *reversed(ids)]
    assert await listed("flow=deploy&limit=1") == list(reversed(ids))
    assert await listed("status=cancelled") == [ids[0]]
    assert await listed("status=awaiting,cancelled&flow=deploy") == list(reversed(ids))
    assert await listed("channel=C0OTHER") == [vetted["id"]]
    assert await listed("initiator=api:ci&flow=gate") == [gate["id"]]
    assert await listed("waiting_on=UGROUPIE&flow=vetted") == [vetted["id"]]
    assert await listed("waiting_on=UBOB&flow=vetted") == []
    groupie = await api.token("groupie-bot", read=("vetted",), answer=("UGROUPIE",))
    assert await listed("waiting_on=api:ci&flow=vetted") == []
    mine = await api.call("GET", "/api/v1/runs?waiting_on=api:groupie-bot", groupie)
    assert [r["id"] for r in mine.body["runs"]] == [vetted["id"]]
    for other in ("api:groupie-bot", "api:nobody"):  # what another token may decide is its own
        asked = await api.call("GET", f"/api/v1/runs?waiting_on={other}", token)
        assert asked.status == 403 and asked.body["error"] == "forbidden"
    assert (await api.call("GET", "/api/v1/runs?limit=0", token)).status == 400
    assert (await api.call("GET", "/api/v1/runs?status=asleep", token)).status == 400
    assert (await api.call("GET", "/api/v1/runs?after=%%%", token)).status == 400
    narrow = await api.token("narrow", read=("gate",))
    assert (await api.call("GET", "/api/v1/runs?flow=deploy", narrow)).status == 403
    only = (await api.call("GET", "/api/v1/runs", narrow)).body["runs"]
    assert [r["id"] for r in only] == [gate["id"]]
    # a page of runs it may read, and its cursor, name no other run: its pages are full
    paged = await api.call("GET", "/api/v1/runs?limit=1", narrow)
    assert [r["id"] for r in paged.body["runs"]] == [gate["id"]]
    assert paged.body["next"] and uncursor(paged.body["next"])[1] == gate["id"]
    deploys = await api.call("GET", "/api/v1/runs?limit=2", await api.token("d", read=("deploy",)))
    assert [r["id"] for r in deploys.body["runs"]] == [ids[2], ids[1]]
    assert uncursor(deploys.body["next"])[1] == ids[1]


async def test_kodosumi_routes_answer_in_kodosumi_shapes(api: Api) -> None:
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await started(api, token, {"flow": "gate", "inputs": {"service": "web"}})
    fid, lid = run["id"], run["locks"][0]["id"]
    status = (await api.call("GET", f"/outputs/status/{fid}", token)).body
    assert list(status) == [
        "status", "timestamp", "final", "fid", "summary", "description", "tags",
        "deprecated", "author", "organization", "version", "kodosumi_version", "app_url",
        "entry_point", "username", "locks",
    ]  # fmt: skip
    assert (status["status"], status["locks"], status["final"]) == ("awaiting", [lid], None)
    form = await api.call("GET", f"/lock/{fid}/{lid}", token)
    assert form.status == 200 and [e["type"] for e in form.body] == [
        "number", "text", "password", "submit", "cancel",
    ]  # fmt: skip
    errors = await api.call("POST", f"/lock/{fid}/{lid}", token, {"replicas": "0"})
    assert errors.status == 200 and errors.body["errors"]["replicas"]
    assert errors.body["elements"] == form.body
    done = await api.call("POST", f"/lock/{fid}/{lid}", token, {"replicas": "2"})
    assert done.status == 200 and done.body["result"] == {"replicas": 2, "pin": None}
    released = await api.call("GET", f"/lock/{fid}/{lid}", token)
    assert released.status == 404
    assert released.body == {"status_code": 404, "detail": f"Lock {lid} for {fid} released."}
    await api.bot.lockstep.engine.idle()
    final = (await api.call("GET", f"/outputs/status/{fid}", token)).body
    assert final["status"] == "finished" and final["locks"] == []
    assert final["final"] == '{"dict": {"service": "web", "replicas": 2}}'
    other = await started(api, token, {"flow": "gate", "inputs": {"service": "db"}})
    cancelled = await api.call("POST", f"/api/v1/runs/{other['id']}/cancel", token, {})
    assert cancelled.status == 200
    status = (await api.call("GET", f"/outputs/status/{other['id']}", token)).body
    assert status["status"] == "error"  # kodosumi has no "cancelled": its clients stop waiting
    missing = await api.call("GET", "/outputs/status/nope", token)
    assert missing.body == {"status_code": 404, "detail": "Execution nope not found."}
    assert (await api.call("GET", f"/lock/{fid}/nope", token)).body["detail"] == (
        f"Lock nope for {fid} not found."
    )


async def test_names_and_cursors_no_run_could_have_are_refused_before_the_store(api: Api) -> None:
    """A NUL in a path or a filter (Postgres cannot even look it up), a cursor or event id the
    API never gave (too large, too deep, a lone surrogate), a channel that is no channel id:
    each is a 404 or a 400, never a 500, and nothing starts."""
    token = await api.token("ci", start=("deploy",), read=("*",), answer=("*",))
    run = await started(api, token)
    for path in ("/api/v1/runs/a%00b", "/api/v1/runs/a%00b/audit", "/api/v1/locks/a%00b",
                 "/outputs/status/a%00b", f"/lock/{run['id']}/a%00b"):  # fmt: skip
        assert (await api.call("GET", path, token)).status == 404, path
    assert (await api.call("POST", "/api/v1/locks/a%00b/answer", token, {})).status == 404
    assert (await api.call("POST", "/api/v1/runs/a%00b/cancel", token, {})).status == 404
    for query in ("flow=a%00", "initiator=%00", "channel=C%00"):
        assert (await api.call("GET", f"/api/v1/runs?{query}", token)).status == 400, query

    def forged(value: Any) -> str:
        text = json.dumps(value) if not isinstance(value, str) else value
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    odd_times = ('[NaN, "x"]', '[Infinity, "x"]', '[-Infinity, "x"]', [True, "x"], ["1", "x"])
    for value in ([10**400, "x"], "[" * 2500 + "]" * 2500, '[1, "\\ud800"]', [1, 2], [1, "a\x00"],
                  *odd_times):  # fmt: skip
        found = await api.call("GET", f"/api/v1/runs?after={forged(value)}", token)
        assert found.status == 400, value
    events = f"/api/v1/runs/{run['id']}/events"
    assert (await api.call("GET", events, token, headers={"Last-Event-ID": "9" * 30})).status == 400
    assert (await api.call("GET", f"{events}?after={'9' * 30}", token)).status == 400
    for channel in ("C" + "X" * 100_000, "C0CHANNEL\x00", "#general", "c0lower"):
        body = {**DEPLOY, "channel": channel}
        assert (await api.call("POST", "/api/v1/runs", token, body)).status == 400
    assert len(await api.bot.lockstep.engine.runs()) == 1  # type: ignore[union-attr]


def test_a_kodosumi_final_wraps_each_result_under_its_type_s_name() -> None:
    """kodosumi's ``final`` as its clients read it: a formatted result is its fields, and what
    a dict holds reads as plain JSON (a date as its ISO text, a set as a list, a body as its
    text), never a Python repr."""
    assert serialize(response.Markdown("# Done\nok")) == {"Markdown": {"body": "# Done\nok"}}
    assert serialize({"a": response.Markdown("x"), "d": date(2025, 1, 31), "s": {"f"}}) == {
        "dict": {"a": "x", "d": "2025-01-31", "s": ["f"]}
    }
    assert serialize([1, "x", None]) == {
        "__list__": [{"int": 1}, {"str": "x"}, {"TypeError": "None"}]
    }


async def test_a_kodosumi_answer_nested_deeper_than_the_api_reads_keeps_the_trail_readable(
    api: Api,
) -> None:
    """kodosumi's route reads a body as the API's own routes do: values nested deeper than
    they take are no values (kodosumi: a body that is not JSON), so the refused answer's
    ``invalid`` event holds nothing its audit trail and event stream cannot write out."""
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await started(api, token, {"flow": "gate", "inputs": {"service": "web"}})
    fid, lid = run["id"], run["locks"][0]["id"]
    deep = b'{"replicas": "0", "x": ' + b"[" * 300 + b"]" * 300 + b"}"
    refused = await api.call("POST", f"/lock/{fid}/{lid}", token, raw=deep)
    assert refused.status == 200 and refused.body["errors"]["replicas"]
    audit = await api.call("GET", f"/api/v1/runs/{fid}/audit", token)
    assert audit.status == 200 and audit.body["events"][-1]["kind"] == "invalid"
    assert (await api.call("POST", f"/api/v1/runs/{fid}/cancel", token, {})).status == 200
    kinds = [kind async for _, kind, _ in api.stream(f"/api/v1/runs/{fid}/events", token)]
    assert "invalid" in kinds and kinds[-1] == "end"


async def test_a_path_or_method_the_api_does_not_serve_is_refused_as_json(api: Api) -> None:
    """Refusals are JSON, a wrong method and a path no route serves under ``/api/v1`` too (they
    were aiohttp's plain text); while no token exists, they stay plain, as for any path."""
    for method, path in (("DELETE", "/api/v1/runs"), ("GET", "/api/v1/nope")):
        plain = await api.call(method, path, check=False)
        assert plain.headers["Content-Type"].startswith("text/plain")
    token = await api.token("ci", read=("*",))
    for method, path, status in [
        ("DELETE", "/api/v1/runs", 405), ("PUT", "/api/v1/runs/x", 405),
        ("GET", "/api/v1/locks/x/answer", 405), ("GET", "/api/v1/nope", 404),
        ("GET", "/api/v1/runs/x/y/z", 404), ("GET", "/api/v1", 404), ("POST", "/api/v1/", 404),
    ]:  # fmt: skip
        for sent in (token, None):
            refused = await api.call(method, path, sent, check=False)
            assert refused.status == status, (method, path)
            assert isinstance(refused.body, dict), (method, path, refused.body)
            expected = "not_found" if status == 404 else "bad_request"
            assert refused.body["error"] == expected and refused.body["message"]
    wrong = await api.call("DELETE", "/api/v1/runs", token, check=False)
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "POST"}


async def test_a_body_that_cannot_be_read_is_a_json_refusal(api: Api) -> None:
    """A body that is not what its ``Content-Encoding`` says is a 400 on every route; on the
    API's routes it is said as JSON, as every refusal there is (it was plain text)."""
    token = await api.token("ci", start=("*",), read=("*",), answer=("*",))
    run = await started(api, token, {"flow": "gate", "inputs": {"service": "web"}})
    lock = run["locks"][0]["id"]
    paths = ("/api/v1/runs", f"/api/v1/runs/{run['id']}/cancel", f"/api/v1/locks/{lock}/answer")
    for path in paths:
        sent = {"Content-Encoding": "gzip"}
        refused = await api.call("POST", path, token, raw=b"not gzip", headers=sent, check=False)
        assert refused.status == 400, path
        assert refused.body == {"error": "bad_request", "message": "the body could not be read"}
    [still] = await api.store.executions()
    assert still.status == "awaiting" and (await api.bot.lockstep.engine.lock(lock)).open


async def test_a_refused_answer_holding_a_number_too_big_for_a_float_is_shown_in_slack(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """The refused answer's values are shown again in the lock's message: an integer past a
    float's range (JSON has no limit) left the message failing to render, retried for ever,
    and its errors never shown."""
    token = await api.token("ci", start=("gate",), answer=("*",))
    run = await started(
        api, token, {"flow": "gate", "inputs": {"service": "web"}, "channel": CHANNEL}
    )
    huge = b'{"inputs": {"replicas": 1' + b"0" * 400 + b', "why": "load"}}'
    path = f"/api/v1/locks/{run['locks'][0]['id']}/answer"
    refused = await api.call("POST", path, token, raw=huge)
    assert refused.status == 422 and refused.body["errors"]["replicas"] == [
        "Enter a number of at most 10."
    ]

    def shown() -> bool:
        return any("Enter a number of at most 10." in json.dumps(c.args.get("blocks"))
                   for c in api.bot.slack.calls_to("chat.update"))  # fmt: skip

    await api.bot.slack.until(shown)
    failed = [r.getMessage() for r in caplog.records if r.name == "lockstep.delivery"]
    assert failed == []
