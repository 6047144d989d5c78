"""Installed to many workspaces through OAuth: each workspace installs (Bolt's OAuth flow,
tokens in slack_sdk's installation store in Lockstep's database), each speaks with its own bot
token (every call FakeSlack records says which), nothing of one workspace is seen, answered,
cancelled or audited from another (Slack payloads and the HTTP API), and a workspace that
uninstalls the app or revokes its token ends its runs and gets no more calls."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, insert, select

from bot import inbound
from bot.api import Scopes, new_token
from bot.fake.signing import interaction_body, slash_command_body
from bot.installs import REVOKED, UNINSTALLED
from bot.logs import TextFormatter
from bot.render import blocks, messages
from bot.settings import SCOPES, Settings, SettingsError
from bot.workspaces import Workspaces as Workspaces_
from flows.engine import Engine, FakeClock, Workspace
from store import SQLStore
from store.tables import slack_oauth_states
from tests.slackbot import assert_valid_surfaces
from tests.workspacebot import ALPHA, BETA, CHANNELS, Workspaces, installed_bot

SUBMIT, CANCEL = "lockstep_submit", "lockstep_cancel"


async def started(ws: Workspaces, team: str, flow: str, user: str) -> tuple[str, dict[str, Any]]:
    """Start ``flow`` in ``team``'s channel; its run's id and its first lock's message."""
    channel = CHANNELS[team]
    before = len([c for c in ws.calls_in(channel) if c.method == "chat.postMessage"])
    assert (await ws.command(team, f"start {flow}", user))[0] == 200
    await ws.slack.until(
        lambda: (
            len([c for c in ws.calls_in(channel) if c.method == "chat.postMessage"]) >= before + 2
        )
    )
    parent = ws.slack.messages(channel)[-1]
    lock = next(m for m in ws.slack.thread(channel, parent["ts"]) if m["ts"] != parent["ts"])
    engine = ws.lockstep.engine
    runs = await engine.runs(initiator=user, workspace=Workspace(team_id=team))
    await engine.settled(runs[0].id)
    return runs[0].id, lock


def engine_of(ws: Workspaces) -> Engine:
    return ws.lockstep.engine


async def test_two_workspaces_install_and_each_speaks_with_its_own_token(
    db_url: str, store: SQLStore
) -> None:
    clock = FakeClock(time.time())
    async with installed_bot(db_url, clock) as ws:
        assert "Thank you!" in await ws.install(ALPHA)
        assert "Thank you!" in await ws.install(BETA)
        [alpha], [beta] = ws.tokens(ALPHA), ws.tokens(BETA)
        assert alpha != beta
        exchanged = ws.slack.calls_to("oauth.v2.access")
        assert [c.ok for c in exchanged] == [True, True]
        assert all("client_secret" not in c.args for c in exchanged)
        assert {c.token for c in ws.slack.calls_to("auth.test")} >= {alpha, beta}

        # each workspace runs its own flows, and every message of it goes with its own token
        run_a, lock_a = await started(ws, ALPHA, "ship", "UANN")
        run_b, _ = await started(ws, BETA, "nudged", "UBEA")
        assert (await ws.click(ALPHA, lock_a, SUBMIT, "UAMOS"))[0] == 200
        await ws.lockstep.handlers.drain()
        await engine_of(ws).settled(run_a)
        ended = await engine_of(ws).execution(run_a)
        assert ended is not None and ended.status == "finished"
        assert (ended.team_id, ended.enterprise_id) == (ALPHA, "")
        clock.advance(3600 + 5)  # B's reminder, an hour later: looked up again, B's token
        assert await engine_of(ws).fire_due() == 1
        await engine_of(ws).settled(run_b)
        reminder = ws.slack.thread(CHANNELS[BETA], ws.slack.messages(CHANNELS[BETA])[-1]["ts"])
        assert any("has waited" in m["text"] for m in reminder)

        for team, token in ((ALPHA, alpha), (BETA, beta)):
            calls = ws.calls_in(CHANNELS[team])
            assert calls and {c.token for c in calls} == {token}, team
            assert "chat.postMessage" in {c.method for c in calls}
        assert "chat.update" in {c.method for c in ws.calls_in(CHANNELS[ALPHA])}  # decided
        assert assert_valid_surfaces(ws.slack) > 0


async def test_nothing_of_a_workspace_is_reached_from_another(db_url: str, store: SQLStore) -> None:
    async with installed_bot(db_url) as ws:
        await ws.install(ALPHA)
        await ws.install(BETA)
        [beta] = ws.tokens(BETA)
        run_a, lock_a = await started(ws, ALPHA, "ship", "USHARED")
        engine = engine_of(ws)
        short = messages.short(run_a)
        unknown = messages.UNKNOWN_EXECUTION.format(id=short)

        # /flow from the other workspace, by a person in both, naming A's run
        for verb in ("status", "cancel", "audit"):
            status, text = await ws.command(BETA, f"{verb} {short}", "USHARED")
            assert status == 200 and unknown in text, (verb, text)
        status, text = await ws.command(BETA, "status", "USHARED")  # their runs: none here
        assert messages.NO_RUNS in text and short not in text
        status, text = await ws.command(ALPHA, f"status {short}", "USHARED")  # at home: yes
        assert short in text and unknown not in text

        # clicks on A's lock message, sent from B (in A's channel, or in B's)
        for channel in (CHANNELS[ALPHA], CHANNELS[BETA]):
            for action in (SUBMIT, CANCEL):
                assert (await ws.click(BETA, lock_a, action, "USHARED", channel))[0] == 200
        await ws.lockstep.handlers.drain()
        notes = [c for c in ws.slack.calls_to("chat.postEphemeral") if c.args["user"] == "USHARED"]
        assert len(notes) == 4 and all(messages.LOCK_GONE in c.args["text"] for c in notes)
        assert {c.token for c in notes} == {beta}  # told with B's own token
        # a lock form's modal, its metadata sealed by the bot for A's lock, submitted from B
        [lock] = [c for c in await store_calls(ws, run_a) if c.kind == "lock"]
        view = {
            "id": "VSTOLEN", "type": "modal", "callback_id": blocks.LOCK_CALLBACK,
            "private_metadata": ws.lockstep.handlers.seal.close(lock.id),
            "state": {"values": {}},
        }  # fmt: skip
        status, text = await ws.submit_view(BETA, view, "USHARED")
        assert status == 200 and messages.LOCK_GONE in text

        # the HTTP API with a token of B
        secret_b = await token(ws, "beta-ci", Workspace(team_id=BETA))
        secret_a = await token(ws, "alpha-ci", Workspace(team_id=ALPHA))
        paths = [
            ("GET", f"/api/v1/runs/{run_a}", None),
            ("GET", f"/api/v1/runs/{run_a}/audit", None),
            ("GET", f"/api/v1/runs/{run_a}/events", None),
            ("GET", f"/api/v1/locks/{lock.id}", None),
            ("POST", f"/api/v1/locks/{lock.id}/answer", {"inputs": {}}),
            ("POST", f"/api/v1/locks/{lock.id}/answer", {"decision": "reject"}),
            ("POST", f"/api/v1/runs/{run_a}/cancel", {}),
            ("GET", f"/lock/{run_a}/{lock.id}", None),
            ("POST", f"/lock/{run_a}/{lock.id}", {}),
            ("GET", f"/outputs/status/{run_a}", None),
        ]
        for method, path, body in paths:
            status, _ = await api(ws, secret_b, method, path, body)
            assert status == 404, (method, path, status)
        status, page = await api(ws, secret_b, "GET", "/api/v1/runs", None)
        assert status == 200 and page["runs"] == []
        status, page = await api(ws, secret_a, "GET", "/api/v1/runs", None)
        assert status == 200 and [r["id"] for r in page["runs"]] == [run_a]
        assert (await api(ws, secret_a, "GET", f"/api/v1/runs/{run_a}", None))[0] == 200

        still = await engine.lock(lock.id)
        assert still is not None and still.open  # nothing changed
        execution = await engine.execution(run_a)
        assert execution is not None and execution.status == "awaiting"
        assert ws.slack.calls_to("files.completeUploadExternal") == []  # no audit sent


async def test_an_entry_form_opened_in_one_workspace_starts_nothing_from_another(
    db_url: str, store: SQLStore
) -> None:
    """An entry form's sealed metadata names the workspace it was opened in: sent back from
    another (by someone in both), it is not a form Lockstep opened there, and nothing starts."""
    async with installed_bot(db_url) as ws:
        await ws.install(ALPHA)
        await ws.install(BETA)
        assert (await ws.command(ALPHA, "start deploy", "USHARED"))[0] == 200
        [opened] = await ws.slack.wait_for("views.open")
        entry = opened.args["view"] | {"id": "VENTRY"}
        values = {
            "f_service": {"service": {"type": "plain_text_input", "value": "api"}},
            "f_version": {"version": {"type": "plain_text_input", "value": "1.2"}},
        }
        status, text = await ws.submit_view(BETA, entry | {"state": {"values": values}}, "USHARED")
        assert status == 200 and messages.FORM_UNKNOWN in json.loads(text)["view"]["blocks"][0][
            "text"]["text"]  # fmt: skip
        assert await engine_of(ws).runs(initiator="USHARED") == []
        status, text = await ws.submit_view(ALPHA, entry | {"state": {"values": values}}, "USHARED")
        assert (status, text) == (200, "")  # where it was opened: it starts
        [run] = await engine_of(ws).runs(initiator="USHARED")
        assert run.workspace == Workspace(team_id=ALPHA)


async def test_install_pages_nobody_finishes_leave_no_rows_behind(
    db_url: str, store: SQLStore
) -> None:
    """Anyone reaching the port can open ``/slack/install``, and each visit keeps an OAuth
    state: those that expired unused are dropped as new ones are made, so a flood of visits
    cannot grow the table for good; an install under way still finishes."""
    async with installed_bot(db_url) as ws:
        long_ago = datetime(2020, 1, 1)  # naive UTC, as slack_sdk writes them
        stale = [{"state": f"stale-{n}", "expire_at": long_ago} for n in range(50)]
        await store.run(lambda conn: conn.execute(insert(slack_oauth_states), stale))
        async with ws.http.get(ws.url("/slack/install")) as page:
            assert page.status == 200
        assert await _states(store) == 1  # the stale ones gone, the new one kept
        await ws.install(ALPHA)  # an install still completes, and uses its state up
        assert await _states(store) == 1


async def _states(store: SQLStore) -> int:
    count = select(func.count()).select_from(slack_oauth_states)
    return int(await store.run(lambda conn: conn.execute(count).scalar()))


async def store_calls(ws: Workspaces, run: str) -> list[Any]:
    trail = await engine_of(ws).trail(run)
    assert trail is not None
    return trail[1]


async def token(ws: Workspaces, name: str, workspace: Workspace) -> str:
    scopes = Scopes(start=("*",), read=("*",), answer=("*",))
    secret, row = new_token(name, scopes, time.time(), workspace)
    store = ws.lockstep.store
    assert isinstance(store, SQLStore)
    assert await store.create_token(row) is not None
    return secret


async def api(ws: Workspaces, secret: str, method: str, path: str, body: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {secret}"}
    async with ws.http.request(method, ws.url(path), json=body, headers=headers) as r:
        found = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, found


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
async def test_a_workspace_that_leaves_ends_its_runs_and_gets_no_more_calls(
    db_url: str, store: SQLStore, kind: str
) -> None:
    async with installed_bot(db_url) as ws:
        await ws.install(ALPHA)
        await ws.install(BETA)
        [alpha], [beta] = ws.tokens(ALPHA), ws.tokens(BETA)
        run_a, _ = await started(ws, ALPHA, "ship", "UANN")
        run_b, lock_b = await started(ws, BETA, "ship", "UBEA")
        [lock] = [c for c in await store_calls(ws, run_a) if c.kind == "lock"]

        ws.slack.oauth.revoke(ALPHA)  # Slack: the tokens stop working, and it says so
        said = len(ws.slack.calls)
        event = {"type": kind}
        if kind == "tokens_revoked":
            event["tokens"] = {"oauth": [], "bot": ["UBOT"]}
        assert (await ws.event(ALPHA, event))[0] == 200
        await ws.lockstep.handlers.drain()
        await engine_of(ws).idle()

        reason = UNINSTALLED if kind == "app_uninstalled" else REVOKED
        ended = await engine_of(ws).execution(run_a)
        assert ended is not None and (ended.status, ended.error) == ("cancelled", reason)
        expired = await engine_of(ws).lock(lock.id)
        assert expired is not None and (expired.status, expired.comment) == ("expired", reason)
        trail = await engine_of(ws).trail(run_a)
        assert trail is not None
        kinds = [(e.kind, e.call_id, (e.detail or {}).get("reason")) for e in trail[2]]
        assert ("expired", lock.id, reason) in kinds and ("cancelled", None, reason) in kinds
        assert await ws.lockstep.store.backlog(time.time()) == (0, None)  # settled, not retried
        # no call since with the revoked token; Bolt finds no installation for A's requests
        assert all(c.token != alpha for c in ws.slack.calls[said:])
        _, told = await ws.command(ALPHA, "start ship", "UANN")
        assert told == messages.NOT_INSTALLED  # no installation: nothing done
        assert [r.id for r in await engine_of(ws).runs(initiator="UANN")] == [run_a]
        assert all(c.token != alpha for c in ws.slack.calls[said:])

        # the other workspace goes on, with its own token
        assert (await ws.click(BETA, lock_b, SUBMIT, "UBEN"))[0] == 200
        await ws.lockstep.handlers.drain()
        await engine_of(ws).settled(run_b)
        done = await engine_of(ws).execution(run_b)
        assert done is not None and done.status == "finished"
        assert {c.token for c in ws.slack.calls[said:] if c.token} == {beta}


async def test_a_rotating_token_is_refreshed_before_it_is_used(
    db_url: str, store: SQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "slack_sdk")  # every request the clients send
    async with installed_bot(db_url) as ws:
        ws.slack.oauth.rotating = True
        ws.slack.oauth.expires_in = 60  # expires within two hours: refreshed when next used
        await ws.install(ALPHA)
        [first] = ws.tokens(ALPHA)
        await started(ws, ALPHA, "ship", "UANN")
        refreshed = [c for c in ws.slack.calls_to("oauth.v2.access") if c.args.get("grant_type")]
        assert refreshed and all(c.ok and c.args["grant_type"] == "refresh_token"
                                 for c in refreshed)  # fmt: skip
        later = ws.tokens(ALPHA)[1:]
        posted = [c for c in ws.calls_in(CHANNELS[ALPHA]) if c.method == "chat.postMessage"]
        assert posted and all(c.token in later for c in posted)  # never the expiring one
        assert first not in {c.token for c in ws.slack.calls if c.method != "auth.test"}
        sent = [r.getMessage() for r in caplog.records if "Sending a request" in r.getMessage()]
        assert sent and all(ws.slack.api_url in line for line in sent)  # only to FakeSlack


def test_a_request_names_its_workspace_with_its_enterprise_on_grid() -> None:
    many = Workspaces_(lambda token: AsyncWebClient(token=token), installations=object())  # type: ignore[arg-type]
    one = Workspaces_(lambda token: AsyncWebClient(token=token), token="xoxb-1")
    command = {"command": "/flow", "text": "", "user_id": "U1", "channel_id": "C1",
               "trigger_id": "t", "team_id": "T1", "enterprise_id": "E1",
               "is_enterprise_install": "true"}  # fmt: skip
    click = {"type": "block_actions", "user": {"id": "U1", "team_id": "T1"}, "team": None,
             "enterprise": {"id": "E1"}, "trigger_id": "t",
             "actions": [{"action_id": "lockstep_submit", "value": "L1"}]}  # fmt: skip
    view = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"},
            "enterprise": {"id": "E1"}, "view": {"id": "V1", "callback_id": "c"}}  # fmt: skip
    revoked = {"type": "tokens_revoked", "tokens": {"oauth": ["U1"], "bot": []}}
    gone = {"type": "event_callback", "team_id": "T1", "enterprise_id": "E1", "event": revoked}
    for body in (command, click, view, gone):
        event = inbound.typed(body)
        assert many.of(event) == Workspace(enterprise_id="E1", team_id="T1"), body
        assert one.of(event) == Workspace()  # one token: one workspace, whatever is said
        again = inbound.typed(inbound.for_bolt(event))  # what Bolt is given says the same
        assert (again.team, again.enterprise) == ("T1", "E1")
    left = inbound.typed(gone)
    assert isinstance(left, inbound.Uninstalled) and not left.ends and left.users == ("U1",)


def test_workspace_tokens_never_reach_a_log_line() -> None:
    formatter = TextFormatter([])
    record = logging.LogRecord("lockstep", logging.INFO, __file__, 1, "%s", None, None)
    record.msg = "token xoxb-TALPHA-12 then xoxe.xoxb-1-abc and xoxe-1-TALPHA-3, not xoxo"
    line = formatter.format(record)
    assert "TALPHA" not in line and "abc" not in line and "xoxo" in line


def test_the_app_manifest_asks_for_the_scopes_and_redirect_an_install_uses() -> None:
    manifest = (Path(__file__).resolve().parent.parent / "slack-app-manifest.yml").read_text()
    oauth = manifest.split("oauth_config:", 1)[1].split("settings:", 1)[0]
    assert "- https://YOUR-HOST/slack/oauth_redirect" in oauth
    assert re.findall(r"^ +- ([\w:.]+) ", oauth.split("bot:", 1)[1], re.MULTILINE) == SCOPES
    events = manifest.split("bot_events:", 1)[1]
    assert "- app_uninstalled" in events and "- tokens_revoked" in events


def test_settings_for_installs_through_oauth() -> None:
    def check(**values: str) -> str:
        try:
            Settings(LOCKSTEP_MODE="http", SLACK_SIGNING_SECRET="s" * 32, **values).check()
        except SettingsError as exc:
            return str(exc)
        return "ok"

    oauth = {"SLACK_CLIENT_ID": "1234.5678", "SLACK_CLIENT_SECRET": "c" * 32}
    assert check(**oauth) == "ok"
    assert check(SLACK_CLIENT_ID="1234.5678") == (
        "SLACK_CLIENT_SECRET is missing: SLACK_CLIENT_ID needs it"
    )
    assert "unset one" in check(**oauth, SLACK_BOT_TOKEN="xoxb-1-2-abc")
    settings = Settings(**oauth, SLACK_SCOPES="commands, chat:write")
    assert settings.slack_scopes == ["commands", "chat:write"] and settings.mode == "http"
    assert settings.authorize_url == "https://slack.com/oauth/v2/authorize"
    assert "c" * 32 in settings.secrets()  # scrubbed from every log line
    for bad in (
        {"SLACK_CLIENT_ID": "abc"},
        {"SLACK_REDIRECT_URI": "http://x/slack/oauth_redirect"},
    ):
        with pytest.raises(ValueError):
            Settings(**bad)


async def test_an_app_home_shows_only_its_own_workspace(db_url: str, store: SQLStore) -> None:
    """A person in two workspaces opens the Home in each: each is published with that
    workspace's token and lists only that workspace's locks."""
    async with installed_bot(db_url) as ws:
        await ws.install(ALPHA)
        await ws.install(BETA)
        [alpha], [beta] = ws.tokens(ALPHA), ws.tokens(BETA)
        run_a, _ = await started(ws, ALPHA, "ship", "UANN")  # USHARED may decide it in A
        [lock] = [c for c in await store_calls(ws, run_a) if c.kind == "lock"]
        opened = {"type": inbound.HOME_OPENED, "user": "USHARED", "tab": "home"}
        for team in (BETA, ALPHA):
            assert (await ws.event(team, opened))[0] == 200
        await ws.lockstep.engine.idle()

        def homes(token: str) -> list[str]:
            return [
                json.dumps(c.args["view"])
                for c in ws.slack.calls_to("views.publish")
                if c.token == token and c.args["user_id"] == "USHARED"
            ]

        await ws.slack.until(lambda: bool(homes(alpha)) and bool(homes(beta)))
        assert any(lock.id in view for view in homes(alpha))  # waits for them in A
        assert not any(lock.id in view or run_a[:8] in view for view in homes(beta))
        assert_valid_surfaces(ws.slack)


async def test_a_request_from_a_workspace_without_the_app_is_one_refusal_line(
    db_url: str, store: SQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A signed request naming a workspace the app is not installed in (never, or no more):
    the person is told so, and it is a refusal (one line, then one a minute), not an error
    logged by Bolt for each request."""
    async with installed_bot(db_url) as ws:
        await ws.install(ALPHA)
        caplog.set_level(logging.INFO)
        for team in (BETA, "TNOWHERE", BETA):
            body = slash_command_body("/flow", "list", user_id="UBEA", channel_id=CHANNELS[BETA],
                                      team_id=team)  # fmt: skip
            assert await ws.post(body) == (200, messages.NOT_INSTALLED)
        button = {"action_id": SUBMIT, "value": "0" * 32}
        click = {"type": "block_actions", "team": {"id": BETA}, "user": {"id": "UBEA"},
                 "trigger_id": "t", "actions": [button]}  # fmt: skip
        assert (await ws.post(interaction_body(click)))[0] == 200
        assert (await ws.command(ALPHA, "list", "UANN"))[0] == 200  # its own still served
        assert "`deploy`" in (await ws.command(ALPHA, "list", "UANN"))[1]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    said = [r.getMessage() for r in caplog.records if "not installed" in r.getMessage()]
    assert said == ["refused a Slack request from a workspace Lockstep is not installed in"]
    assert await store.executions() == []


async def test_a_tampered_install_redirect_is_one_refusal_line_of_its_kind(
    db_url: str, store: SQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The redirect back from Slack with a forged or another browser's state, no code, or a
    code Slack will not exchange: refused with Bolt's page, installing nothing, and each kind
    one line (then one a minute), never naming the code (Bolt warned of each such code by
    name, on two lines, and of the rest not at all). An install then still completes."""
    async with installed_bot(db_url) as ws:
        caplog.set_level(logging.INFO)
        back = "/slack/oauth_redirect?code=forged-code-4711&state="
        for _ in range(3):
            forged = {"Cookie": "slack-app-oauth-state=forged"}
            async with ws.http.get(ws.url(back + "forged"), headers=forged) as r:
                assert r.status == 401
            async with ws.http.get(ws.url(back + "forged")) as r:  # another browser's
                assert r.status == 400
        async with ws.http.get(ws.url("/slack/install")) as page:
            state = re.search(r"state=([\w-]+)", await page.text())
            cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        assert state is not None
        async with ws.http.get(ws.url(back + state[1]), headers={"Cookie": cookie}) as r:
            assert r.status == 401  # its state used up with a code Slack will not take
        assert ws.tokens(ALPHA) == []
        await ws.install(ALPHA)
        assert ws.tokens(ALPHA) != []
    said = sorted(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert said == [
        "refused an OAuth redirect: Slack would not exchange its code (invalid_code)",
        "refused an OAuth redirect: invalid_browser",
        "refused an OAuth redirect: invalid_state",
    ]
    ours = [r for r in caplog.records if r.name != "aiohttp.access"]  # (off when deployed)
    assert not [r for r in ours if "forged-code-4711" in r.getMessage()]
