"""kodosumi's panel API as its docs and clients call it (docs/api.md of kodosumi): an entry's
form at ``GET /-/{host}/{port}/{prefix}/-/{entry path}``, a launch by ``POST`` of the field
values there (``{"result": fid}``, or the errors with status 200), then ``/outputs/status``."""

from __future__ import annotations

import json

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
