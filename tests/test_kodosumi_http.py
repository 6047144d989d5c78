"""kodosumi's panel API as its docs and clients call it (docs/api.md of kodosumi): an entry's
form at ``GET /-/{host}/{port}/{prefix}/-/{entry path}``, a launch by ``POST`` of the field
values there (``{"result": fid}``, or the errors with status 200), then ``/outputs/status``."""

from __future__ import annotations

import asyncio
import json
import re
import time

from bot.api.kodosumi import MOST_KILLED
from flows.engine import FakeClock
from store import SQLStore
from tests.apiclient import Api, base_of
from tests.slackbot import running_bot

HYMN = "tests.kodosumi_apps.hymn"


async def test_an_entry_is_read_and_launched_at_its_panel_url(db_url: str, store: SQLStore) -> None:
    async with running_bot(db_url, flows=HYMN) as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        url = "/-/localhost/8001/hymn/-/"  # as kodosumi's /flow lists it
        schema = await api.call("GET", url, token)
        assert schema.status == 200, schema.body
        assert (schema.body["summary"], schema.body["openapi_extra"]) == (
            "Hymn Creator",
            {"x-kodosumi": True, "x-organization": "Acme"},
        )
        assert [e["type"] for e in schema.body["elements"]] == [
            "markdown", "break", "text", "submit", "cancel",
        ]  # fmt: skip
        refused = await api.call("POST", url, token, {"topic": ""})
        assert refused.status == 200 and refused.body["result"] is None
        assert refused.body["errors"] == {"topic": ["Please give me a topic."], "_global_": []}
        assert refused.body["elements"] == schema.body["elements"]
        launched = await api.call("POST", url, token, {"topic": "Ich wollte ich wäre ein Huhn."})
        assert launched.status == 200, launched.body
        fid = launched.body["result"]
        assert isinstance(fid, str) and launched.body["errors"] is None
        await bot.lockstep.engine.settled(fid)
        await bot.lockstep.engine.idle()
        status = (await api.call("GET", f"/outputs/status/{fid}", token)).body
        assert status["status"] == "finished" and status["summary"] == "Hymn Creator"
        assert json.loads(status["final"])["CrewOutput"]["raw"].startswith("A hymn to Ich")
        for same in ("/-/", "/-/localhost/8001/hymn/-", "/-/hymn-creator"):  # other spellings
            assert (await api.call("GET", same, token)).body == schema.body, same
        missing = await api.call("GET", "/-/localhost/8001/hymn/-/nope", token)
        assert missing.status == 404 and missing.body["status_code"] == 404
        reader = await api.token("reader", read=("*",))
        assert (await api.call("POST", url, reader, {"topic": "x"})).status == 403


async def events(api: Api, path: str, token: str) -> list[tuple[str | None, str, str]]:
    return [event async for event in api.stream(path, token)]


async def test_a_run_is_followed_on_kodosumi_s_event_stream(db_url: str, store: SQLStore) -> None:
    async with running_bot(db_url, flows="tests.kodosumi_apps.streamed") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",), answer=("*",))
        fid = (await api.call("POST", "/-/", token, {"name": "Ada"})).body["result"]
        await bot.lockstep.engine.settled(fid)
        status = (await api.call("GET", f"/outputs/status/{fid}?extended=true", token)).body
        [lid] = status["locks"]
        assert (await api.call("POST", f"/lock/{fid}/{lid}", token, {"ok": True})).status == 200
        await bot.lockstep.engine.idle()
        stream = await events(api, f"/outputs/stream/{fid}", token)
        assert stream[-1] == ("0", "eof", "end of stream")
        said = [(kind, data.split(":", 1)[1]) for _, kind, data in stream[:-1]]
        assert all(
            re.fullmatch(r"\d+(\.\d+)?", data.split(":", 1)[0]) for _, _, data in stream[:-1]
        )
        kinds = [kind for kind, _ in said]
        assert kinds == [
            "status", "inputs", "meta", "status", "debug", "result", "stdout", "lock", "status",
            "lease", "result", "final", "status",
        ], (kinds, said)  # fmt: skip
        meta = json.loads(said[2][1])["dict"]
        assert (meta["fid"], meta["summary"], meta["tags"]) == (fid, "Event Stream Demo",
                                                               ["demo", "stream"])  # fmt: skip
        assert json.loads(said[1][1]) == {"dict": {"name": "Ada"}}
        assert list(meta)[:4] == ["fid", "username", "base_url", "entry_point"]
        assert meta["base_url"] == "/-/lockstep/event-stream-demo/-/"
        statuses = ["starting", "running", "awaiting", "finished"]
        assert [m for k, m in said if k == "status"] == statuses
        assert said[4][1] == "starting for Ada"
        assert json.loads(said[5][1]) == {"Markdown": {"body": "# Working\nplease wait"}}
        assert said[6][1].strip() == "printed by the flow"
        assert json.loads(said[7][1])["dict"]["lid"] == lid
        assert json.loads(said[9][1]) == {"dict": {"lid": lid}}
        assert json.loads(said[10][1]) == {"dict": {"confirmed": True}}
        assert json.loads(said[11][1]) == {"dict": {"name": "Ada", "confirmed": True}}
        stdio = await events(api, f"/outputs/stdio/{fid}", token)
        assert [kind for _, kind, _ in stdio] == ["debug", "stdout", "eof"]
        main = await events(api, f"/outputs/main/{fid}", token)
        assert "debug" not in {kind for _, kind, _ in main} and main[-1][1] == "eof"
        missing = await api.call("GET", "/outputs/stream/nope", token)
        assert missing.status == 404 and missing.body["detail"] == "Execution nope not found."


async def test_flows_are_listed_with_the_urls_that_launch_them(
    db_url: str, store: SQLStore
) -> None:
    """Two services with an entry at ``/`` (each its own kodosumi app): ``/flow`` lists each
    with a URL that reads and launches that one, a page at a time, as kodosumi pages it."""
    async with running_bot(db_url, flows=f"{HYMN},tests.kodosumi_apps.streamed") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        flows = await api.call("GET", "/flow", token)
        assert flows.status == 200 and flows.body["offset"] is None
        items = {item["summary"]: item for item in flows.body["items"]}
        assert set(items) == {"Hymn Creator", "Event Stream Demo"}
        demo = items["Event Stream Demo"]
        assert set(demo) == {"uid", "method", "url", "source", "summary", "description",
                             "deprecated", "author", "organization", "tags"}  # fmt: skip
        assert (demo["method"], demo["tags"], demo["author"]) == (
            "GET", ["demo", "stream"], "ops@example.com",
        )  # fmt: skip
        for summary, item in items.items():
            assert item["url"].startswith("/-/") and "/-/" in item["url"][3:]
            schema = await api.call("GET", item["url"], token)
            assert schema.status == 200 and schema.body["summary"] == summary
        launched = await api.call("POST", items["Event Stream Demo"]["url"], token, {"name": "x"})
        assert launched.status == 200 and launched.body["result"]
        first = (await api.call("GET", "/flow?pp=1", token)).body
        assert len(first["items"]) == 1 and first["offset"] == first["items"][0]["uid"]
        rest = (await api.call("GET", f"/flow?pp=1&offset={first['offset']}", token)).body
        assert len(rest["items"]) == 1 and rest["offset"] is None
        assert rest["items"][0]["uid"] != first["offset"]
        found = (await api.call("GET", "/flow?q=STREAM", token)).body["items"]
        assert [f["summary"] for f in found] == ["Event Stream Demo"]
        assert (await api.call("GET", "/flow/tags", token)).body == {"demo": 1, "stream": 1}


async def test_a_kodosumi_client_kills_a_waiting_run(db_url: str, store: SQLStore) -> None:
    async with running_bot(db_url, flows="tests.kodosumi_apps.streamed") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        fid = (await api.call("POST", "/-/", token, {"name": "Ada"})).body["result"]
        await bot.lockstep.engine.settled(fid)
        onlooker = await api.token("onlooker", read=("*",))
        assert (await api.call("DELETE", f"/outputs/{fid}", onlooker)).status == 403
        assert (await api.call("GET", f"/outputs/status/{fid}", token)).body["status"] == "awaiting"
        assert (await api.call("DELETE", f"/outputs/{fid}", token)).status == 204
        status = (await api.call("GET", f"/outputs/status/{fid}", token)).body
        assert (status["status"], status["locks"]) == ("error", [])
        stream = await events(api, f"/outputs/stream/{fid}", token)
        assert [kind for _, kind, _ in stream][-3:] == ["error", "status", "eof"]
        assert "killed by ci" in stream[-3][2]
        assert (await api.call("DELETE", f"/outputs/{fid}", token)).status == 204  # ended: kept
        assert (await api.call("DELETE", "/outputs/nope", token)).status == 404


async def test_a_token_is_taken_as_kodosumi_s_api_key_header(db_url: str, store: SQLStore) -> None:
    """kodosumi's clients send their key as ``KODOSUMI_API_KEY``: a Lockstep token sent so is
    taken as ``Authorization: Bearer`` is (which wins when both are sent)."""
    async with running_bot(db_url, flows=HYMN) as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        key = {"KODOSUMI_API_KEY": token}
        listed = await api.call("GET", "/flow", headers=key)
        assert listed.status == 200 and [f["summary"] for f in listed.body["items"]] == [
            "Hymn Creator"
        ]
        launched = await api.call("POST", "/-/", None, {"topic": "the sky"}, key)
        assert launched.status == 200 and launched.body["result"]
        assert (await api.call("GET", "/flow", headers={"KODOSUMI_API_KEY": "nope"})).status == 401
        wrong = {"KODOSUMI_API_KEY": token, "Authorization": "Bearer lst_nope"}
        assert (await api.call("GET", "/flow", headers=wrong)).status == 401


async def test_kodosumi_s_lock_docs_api_workflow_runs_as_written(
    db_url: str, store: SQLStore
) -> None:
    """docs/locks.mdx of kodosumi, "API Workflow": the entry's schema at ``/inputs/-/...``, a
    launch posted form-encoded, the locks answered with JSON, until the run finishes."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.review_api") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",), answer=("*",))
        schema = await api.call("GET", "/inputs/-/localhost/8125/-/review", token)
        assert schema.status == 200 and [e["name"] for e in schema.body["elements"][:2]] == [
            "doc_name", "author",
        ]  # fmt: skip
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        launched = await api.call(
            "POST", "/-/localhost/8125/-/review", token, None, form,
            raw=b"doc_name=My%20Document&author=John%20Doe",
        )  # fmt: skip
        assert launched.status == 200, launched.body
        fid = launched.body["result"]
        await bot.lockstep.engine.settled(fid)
        status = (await api.call("GET", f"/outputs/status/{fid}", token)).body
        assert status["status"] == "awaiting"
        [lid] = status["locks"]
        lock = (await api.call("GET", f"/lock/{fid}/{lid}", token)).body
        assert lock[0]["text"].startswith("# Content Review Required\n\n**Document**: My Document")
        refused = await api.call("POST", f"/lock/{fid}/{lid}", token, {"accurate": True})
        assert refused.body["errors"]["grammar"] == ["Grammar must be verified"]
        answer = {"accurate": True, "grammar": True, "comments": "Content looks good"}
        done = await api.call("POST", f"/lock/{fid}/{lid}", token, answer)
        assert done.body["result"] == {"approved": True, "comments": "Content looks good",
                                       "reviewer": "human_reviewer"}  # fmt: skip
        await bot.lockstep.engine.settled(fid)
        status = (await api.call("GET", f"/outputs/status/{fid}", token)).body
        [final] = status["locks"]
        assert status["status"] == "awaiting" and final != lid
        published = await api.call(
            "POST", f"/lock/{fid}/{final}", token, None, form, raw=b"publish=on&final_comments=ok"
        )
        assert published.body["result"]["published"] is True, published.body
        await bot.lockstep.engine.idle()
        status = (await api.call("GET", f"/outputs/status/{fid}", token)).body
        assert status["status"] == "finished"
        assert json.loads(status["final"])["dict"]["final_approval"]["comments"] == "ok"


async def test_kodosumi_s_routes_take_a_trailing_slash(db_url: str, store: SQLStore) -> None:
    """kodosumi's server takes ``/flow/`` for ``/flow`` (its API cheatsheet lists flows so)."""
    async with running_bot(db_url, flows=HYMN) as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        listed = await api.call("GET", "/flow/", token, check=False)
        assert listed.status == 200 and len(listed.body["items"]) == 1
        fid = (await api.call("POST", "/-/", token, {"topic": "x"})).body["result"]
        status = await api.call("GET", f"/outputs/status/{fid}/", token, check=False)
        assert status.status == 200 and status.body["fid"] == fid


async def test_a_run_s_raw_final_is_kodosumi_s(db_url: str, store: SQLStore) -> None:
    """kodosumi's own tests poll ``/outputs/raw/{fid}`` for the final ``{"dict": …}``."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.streamed") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",), answer=("*",))
        fid = (await api.call("POST", "/-/", token, {"name": "Ada"})).body["result"]
        await bot.lockstep.engine.settled(fid)
        waiting = await api.call("GET", f"/outputs/raw/{fid}", token)
        assert waiting.status == 200
        assert waiting.body == {"Markdown": {"body": "no result, yet. please be patient."}}
        [lid] = (await api.call("GET", f"/outputs/status/{fid}", token)).body["locks"]
        await api.call("POST", f"/lock/{fid}/{lid}", token, {"ok": "on"})
        await bot.lockstep.engine.idle()
        raw = await api.call("GET", f"/outputs/raw/{fid}", token)
        assert raw.body == {"dict": {"name": "Ada", "confirmed": True}}
        assert (await api.call("GET", "/outputs/raw/nope", token)).status == 404


async def test_kodosumi_s_own_test_drives_a_run_through_its_panel(
    db_url: str, store: SQLStore
) -> None:
    """kodosumi's tests/test_execution.py: ``/flow`` for the URL, ``POST /inputs{url}`` with
    the form (302, the run's id last in ``Location``), the status until ``awaiting``, the lock
    at ``/lock/`` and ``/inputs/lock/``, answered with JSON, and the final at ``/outputs/raw``."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.factory:app_factory") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",), answer=("*",))
        [endpoint] = (await api.call("GET", "/flow", token)).body["items"]
        assert (endpoint["summary"], endpoint["deprecated"]) == ("Factory Example", False)
        assert (await api.call("GET", "/inputs" + endpoint["url"], token)).status == 200
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        cancel = await api.call("POST", "/inputs" + endpoint["url"], token, None, form,
                                raw=b"__cancel__=__cancel__", redirects=False)  # fmt: skip
        assert (cancel.status, cancel.headers["Location"]) == (302, "/")
        posted = await api.call("POST", "/inputs" + endpoint["url"], token, None, form,
                                raw=b"name=Test+User&active=on", redirects=False)  # fmt: skip
        assert posted.status == 302, posted.body
        fid = posted.headers["Location"].split("/")[-1]
        await bot.lockstep.engine.settled(fid)
        assert len(await bot.lockstep.store.executions()) == 1  # the cancel started nothing
        status = (await api.call("GET", f"/outputs/status/{fid}", token)).body
        assert status["status"] == "awaiting"
        lid = status["locks"][0]
        expected = [
            {"type": "markdown", "text": "# hello world from runner"},
            {"type": "boolean", "name": "continue", "label": "Continue", "value": False,
             "option": "CONTINUE"},
            {"type": "submit", "text": "yes"},
            {"type": "cancel", "text": "no"},
        ]  # fmt: skip
        assert (await api.call("GET", f"/lock/{fid}/{lid}", token)).body == expected
        assert (await api.call("GET", f"/inputs/lock/{fid}/{lid}", token)).body == expected
        missing = await api.call("GET", "/lock/x88394e76dd65923d09d5394/6c0f", token)
        assert missing.body["detail"] == "Execution x88394e76dd65923d09d5394 not found."
        back = await api.call("POST", f"/inputs/lock/{fid}/{lid}", token, None, form,
                              raw=b"__cancel__=__cancel__", redirects=False)  # fmt: skip
        assert (back.status, back.headers["Location"]) == (302, f"/outputs/status/{fid}")
        answered = await api.call("POST", f"/inputs/lock/{fid}/{lid}", token, None, form,
                                  raw=b"continue=on", redirects=False)  # fmt: skip
        assert (answered.status, answered.headers["Location"]) == (302, f"/outputs/status/{fid}")
        assert (await api.call("GET", f"/lock/{fid}/{lid}", token)).status == 404
        await bot.lockstep.engine.idle()
        raw = (await api.call("GET", f"/outputs/raw/{fid}", token)).body
        assert raw == {"dict": {"lock-result": {"phase": "lease-1", "inputs": {"continue": True}}}}


async def test_an_expired_lock_reads_on_the_stream_as_kodosumi_s_timeout(
    db_url: str, store: SQLStore
) -> None:
    """kodosumi's test_lock_timeout: once the lock has expired, ``/lock/`` is 404, the status
    ``error``, and ``/outputs/main`` has the lock, ``TimeoutError: Lock <lid> expired`` and the
    ``error`` status."""
    clock = FakeClock(time.time())
    async with running_bot(db_url, clock, flows="tests.kodosumi_apps.execution") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        fid = (await api.call("POST", "/-/timeout", token, {})).body["result"]
        await bot.lockstep.engine.settled(fid)
        [lid] = (await api.call("GET", f"/outputs/status/{fid}", token)).body["locks"]
        clock.advance(4)
        await bot.lockstep.engine.fire_due()
        await bot.lockstep.engine.settled(fid)
        assert (await api.call("GET", f"/lock/{fid}/{lid}", token)).status == 404
        assert (await api.call("GET", f"/outputs/status/{fid}", token)).body["status"] == "error"
        async with bot.http.get(
            f"{api.base}/outputs/main/{fid}", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            text = await response.text()
        assert "event: lock" in text
        assert f"data: TimeoutError: Lock {lid} expired" in text
        assert re.search(r"event: status\s+data: [\d.]+:error", text)


async def test_a_launch_posted_as_a_multipart_form_or_not_a_form_at_all(
    db_url: str, store: SQLStore
) -> None:
    """A browser's multipart form launches as a URL-encoded one does (a file field carries no
    value); a body that says it is a form and is not (no boundary, bytes that are not UTF-8, a
    charset no one knows) is a 400 that names the body, never a 500."""
    async with running_bot(db_url, flows=HYMN) as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        url = "/-/localhost/8001/hymn/-/"
        multipart = {"Content-Type": "multipart/form-data; boundary=XyZ"}
        part = (
            b'--XyZ\r\nContent-Disposition: form-data; name="topic"\r\n\r\nH\xc3\xbchner\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nhi\r\n'
            b"--XyZ--\r\n"
        )
        launched = await api.call("POST", url, token, None, multipart, raw=part)
        assert launched.status == 200 and launched.body["errors"] is None, launched.body
        execution = await bot.lockstep.engine.execution(launched.body["result"])
        assert execution is not None and execution.inputs["topic"] == "Hühner"
        bogus = b'--XyZ\r\nContent-Disposition: form-data; name="topic"\r\nContent-Type: text/plain; charset=nope\r\n\r\nx\r\n--XyZ--\r\n'  # noqa: E501
        for content_type, raw in (
            ("multipart/form-data; boundary=XyZ", b"no boundary here"),
            ("multipart/form-data", part),
            ("multipart/form-data; boundary=XyZ", bogus),
            ("application/x-www-form-urlencoded", b"topic=%ff%fe"),
            ("application/x-www-form-urlencoded", b"topic=\xff"),
            ("application/x-www-form-urlencoded; charset=latin-1", b"topic=x"),
        ):
            for path in (url, f"/inputs{url}"):
                refused = await api.call(
                    "POST", path, token, None, {"Content-Type": content_type}, raw=raw,
                    redirects=False,
                )  # fmt: skip
                assert refused.status == 400, (path, content_type, raw, refused.body)
                assert refused.body["message"].startswith("body: not a form"), refused.body
        assert len(await store.executions()) == 1  # the refused ones started nothing


async def test_a_kill_list_names_each_run_once_and_not_too_many(
    db_url: str, store: SQLStore
) -> None:
    """``DELETE /outputs/`` reads each run it names: one id repeated 20,000 times (a body
    under a megabyte) was 20,000 reads; a run is killed once however often it is named,
    and more runs than one request may kill are refused before any is."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.streamed") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        fid = (await api.call("POST", "/-/", token, {"name": "Ada"})).body["result"]
        await bot.lockstep.engine.settled(fid)
        many = {"fid": [fid] + [f"nope-{n}" for n in range(MOST_KILLED)]}
        refused = await api.call("DELETE", "/outputs/", token, many)
        assert refused.status == 400 and "at most" in refused.body["message"]
        assert (await api.call("GET", f"/outputs/status/{fid}", token)).body["status"] == "awaiting"
        repeated = api.call("DELETE", "/outputs/", token, {"fid": [fid] * 20_000})
        assert (await asyncio.wait_for(repeated, 5)).status == 204
        status = (await api.call("GET", f"/outputs/status/{fid}", token)).body
        assert status["status"] == "error"


async def test_a_kill_list_of_one_run_kills_it_and_one_of_no_run_ids_is_400(
    db_url: str, store: SQLStore
) -> None:
    """A form posting one ``fid`` (or JSON naming one as a string) kills that run: it was a
    204 that killed nothing. A ``fid`` of numbers, objects or nulls is a 400, none killed."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.streamed") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        first, second = [
            (await api.call("POST", "/-/", token, {"name": name})).body["result"]
            for name in ("Ada", "Grace")
        ]
        for fid in (first, second):
            await bot.lockstep.engine.settled(fid)
        for wrong in ({"a": first}, 1, True, [first, 1], [None], [{"fid": first}]):
            refused = await api.call("DELETE", "/outputs/", token, {"fid": wrong})
            assert refused.status == 400 and refused.body["message"] == "fid: a list of run ids"
        assert (await api.call("GET", f"/outputs/status/{first}", token)).body[
            "status"
        ] == "awaiting"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        killed = await api.call(
            "DELETE", "/outputs/", token, None, form, raw=f"fid={first}".encode()
        )
        assert killed.status == 204
        assert (await api.call("DELETE", "/outputs/", token, {"fid": second})).status == 204
        for fid in (first, second):
            assert (await api.call("GET", f"/outputs/status/{fid}", token)).body[
                "status"
            ] == "error"
