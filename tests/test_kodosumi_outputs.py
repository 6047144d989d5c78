"""What a kodosumi app's outputs read as: on kodosumi's event stream (``/outputs/stream``),
each object given to ``tracer.result``/``action`` under its type's name, as kodosumi's
``serialize`` writes it; in Slack, what kodosumi's page shows formatted, formatted."""

from __future__ import annotations

import json

from store import SQLStore
from tests.apiclient import Api, base_of
from tests.kodosumi_slack import ending, started, text, texts, thread
from tests.slackbot import running_bot


async def test_results_keep_their_type_s_name_on_the_event_stream(
    db_url: str, store: SQLStore
) -> None:
    async with running_bot(db_url, flows="tests.kodosumi_apps.reporting") as bot:
        api = Api(bot, base_of(bot))
        token = await api.token("ci", start=("*",), read=("*",))
        fid = (await api.call("POST", "/-/", token, {"claim": "sky is blue"})).body["result"]
        await bot.lockstep.engine.settled(fid)
        await bot.lockstep.engine.idle()
        stream = [event async for event in api.stream(f"/outputs/stream/{fid}", token)]
        said = [(kind, json.loads(data.split(":", 1)[1])) for _, kind, data in stream
                if kind in ("result", "action")]  # fmt: skip
        assert said == [
            ("result", {"Finding": {"claim": "sky is blue", "confidence": 0.9}}),
            ("result", {"str": "42"}),
            ("result", {"dict": {"tokens": 12}}),
            ("result", {"Markdown": {"body": ""}}),
            ("action", {"str": "true"}),
            ("result", {"Finding": {"claim": "sky is blue", "confidence": 0.5}}),
            ("result", {"str": "7"}),
        ]
        status = (await api.call("GET", f"/outputs/status/{fid}", token)).body
        assert json.loads(status["final"]) == {
            "Finding": {"claim": "sky is blue", "confidence": 1.0}
        }


async def test_a_crew_s_output_ends_its_thread_as_its_markdown(
    db_url: str, store: SQLStore
) -> None:
    """The crew's final answer, as kodosumi's page shows a ``CrewOutput``: its ``raw``
    Markdown formatted, not its source in a field beside its tasks' and token counts' JSON."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.story") as bot:
        run = await started(bot, "story-writer", text("topic", "the sea"))
        assert run.status == "finished"
        line, shown = ending(bot, run)
        assert line.startswith("✅ *Finished*")
        assert shown == "*A Story of the sea*\n\n*Chapter 1*\nOnce upon a _time_:\n• a sea"
        told = "*Story* (Writer)\n*A Story of the sea*\n\n*Chapter 1*\nOnce upon a _time_:\n• a sea"
        fields = (
            '"tool": "search", "tool_input": "{\\"q\\": \\"sea\\"}", "text": "...", "result": ""'
        )
        step = '```{"thought": "look it up", ' + fields + "}```"
        # the agent's steps (not "<AgentAction object at 0x…>"), then the task's output
        assert texts(bot, run)[:4] == ["```# Agent: Writer```", step, "*Found* 3 tales", told]
        api = Api(bot, base_of(bot))
        token = await api.token("ci", read=("*",))
        stream = [event async for event in api.stream(f"/outputs/stream/{run.id}", token)]
        [task] = [json.loads(data.split(":", 1)[1]) for _, kind, data in stream if kind == "result"]
        assert task["TaskOutput"]["agent"] == "Writer"
        steps = [json.loads(data.split(":", 1)[1]) for _, kind, data in stream if kind == "action"]
        assert [next(iter(s)) for s in steps] == ["AgentAction", "AgentFinish"]
        assert steps[0]["AgentAction"]["tool"] == "search"
        [printed] = [data.split(":", 1)[1] for _, kind, data in stream if kind == "stdout"]
        assert printed.startswith("\x1b[1m")  # as printed: kodosumi's page shows its colours


async def test_blank_output_posts_nothing_in_slack(db_url: str, store: SQLStore) -> None:
    """A spacer in kodosumi's page (``tracer.markdown("")``) was a message of its own, "…"."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.reporting") as bot:
        run = await started(bot, "fact-checker", text("claim", "sky"))
        assert run.status == "finished"
        said = texts(bot, run)
        assert "…" not in said and said[1:3] == ["42", '```{"tokens": 12}```'], said


async def test_a_print_is_one_line_of_output(db_url: str, store: SQLStore) -> None:
    """``print()`` writes its values, their separators and the line's end apart: each write
    was a message of its own ("checked", "3", "sources:"...)."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.printing") as bot:
        run = await started(bot, "printer", text("topic", "x"))
        assert run.status == "finished"
        assert texts(bot, run)[:6] == [
            "```checked 3 sources: ['a', 'b']```",
            "```fetching...```",  # flushed: shown at once
            "``` done```",
            "```summing```",
            "*note*",
            "⚠️ 100%|##|",  # the bar as last drawn, not each drawing on a line of its own
        ]
        api = Api(bot, base_of(bot))
        token = await api.token("ci", read=("*",))
        stdio = [e async for e in api.stream(f"/outputs/stdio/{run.id}", token)]
        printed = [data.split(":", 1)[1] for _, kind, data in stdio if kind == "stdout"]
        assert printed == ["checked 3 sources: ['a', 'b']", "fetching...", " done", "summing"]


async def test_a_long_report_ends_its_thread_whole(db_url: str, store: SQLStore) -> None:
    """A Markdown result of some thousand characters, as research agents write them: it was
    cut after its first 3,000 characters, before its conclusion."""
    async with running_bot(db_url, flows="tests.kodosumi_apps.research") as bot:
        run = await started(bot, "researcher", text("topic", "tea"))
        assert run.status == "finished"
        _, shown = ending(bot, run)
        assert len(shown) > 3000 and shown.endswith("*Conclusion*\n\nBuy."), shown[-200:]
        assert shown.startswith("*Report on tea*\n*Finding 0*")
        sections = [b["text"]["text"] for b in thread(bot, run)[-1]["blocks"] if "text" in b]
        assert len(sections) > 2 and all(s.count("```") % 2 == 0 for s in sections)  # closed
